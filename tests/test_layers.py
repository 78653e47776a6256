"""The layers of the code hold: ``lint-imports`` checks the contracts in pyproject.toml (no import
from a lower layer up, no import cycles inside a package; docs/decisions.md, "Layers")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_import_contracts_are_kept(tmp_path):
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [str(lint_imports), "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 broken." in proc.stdout


def _contracts() -> list[dict]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10 (pyproject.toml's requires-python): the same parser, as a package
        import tomli as tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _named(contract: dict) -> set[str]:
    """The modules a contract places (its layers, in each of its containers; its sources)."""
    names = set(contract.get("source_modules", []))
    for layer in contract.get("layers", []):
        for module in (m.strip() for m in layer.split("|")):
            containers = contract.get("containers") or [""]
            names |= {f"{c}.{module}" if c else module for c in containers}
    return names


def _modules() -> list[str]:
    """Every module and package under harness/, from the files (importing them would start gevent)."""
    out = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return [m for m in out if m != "harness"]


def test_every_module_of_harness_is_in_a_layer():
    """A module no contract names is checked by nothing: a new top-level module or package (as
    changepoints.py and runhistory.py once were) must be given a layer."""
    named = set().union(*(_named(c) for c in _contracts()))
    modules = _modules()
    assert "harness.history.runs" in modules and "harness.verdict.reads.measure" in modules
    missing = [m for m in modules if not any(m == n or m.startswith(n + ".") for n in named)]
    assert missing == [], f"not in any import-linter contract (pyproject.toml): {missing}"


def test_every_module_of_a_layered_package_is_in_one_of_its_layers():
    """Inside the verdict and the history each module sits in a layer of its own contract."""
    for contract in (c for c in _contracts() if c.get("containers")):
        named = _named(contract)
        for container in contract["containers"]:
            children = {
                m for m in _modules() if m.startswith(container + ".") and "." not in m[len(container) + 1 :]
            }
            assert children, container
            assert children <= named, f"{container}: {sorted(children - named)} not in {contract['id']}"

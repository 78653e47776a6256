"""Every runtime dependency earns its place: the code a user installs (harness/, seed/) imports
each one, imports nothing else but what Locust itself brings, and docs/decisions.md says why each
one is there. A package only the tests use belongs in the test extras."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys

from tests.helpers import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _dependencies(extra: str | None = None) -> set[str]:
    """pyproject.toml's dependencies (or one extra's), as installed (make test reinstalls on a change)."""
    marker = f'extra == "{extra}"' if extra else None
    return {
        _name(r)
        for r in importlib.metadata.requires("loadtest-harness") or []
        if (marker in r.replace("'", '"') if marker else "extra ==" not in r)
    }


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution -> the files of harness/ and seed/ that import it (stdlib and own code left out)."""
    by_module = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for path in [*(ROOT / "harness").rglob("*.py"), *(ROOT / "seed").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("harness", "seed"):
                    continue
                for dist in by_module.get(top, [top]):
                    found.setdefault(_name(dist), set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_runtime_dependency_is_imported_by_the_code_users_install():
    unused = _dependencies() - set(_imported_distributions())
    assert not unused, f"runtime dependencies nothing in harness/ or seed/ imports: {sorted(unused)}"


def test_the_code_users_install_imports_only_its_dependencies_and_locusts_own():
    locust_own = {_name(r) for r in importlib.metadata.requires("locust") or [] if "extra ==" not in r}
    stray = {
        dist: sorted(files)
        for dist, files in _imported_distributions().items()
        if dist not in _dependencies() | locust_own
    }
    assert not stray, f"imported by harness/ or seed/ but not a runtime dependency: {stray}"


def test_test_only_packages_stay_in_the_test_extras():
    assert "influxdb-client" in _dependencies("test") and "influxdb-client" not in _dependencies()


def test_decisions_say_why_each_runtime_dependency_is_there():
    text = (ROOT / "docs" / "decisions.md").read_text()
    section = text.split("## Runtime dependencies", 1)[1].split("\n## ", 1)[0]
    named = {_name(m) for m in re.findall(r"^- `([^`]+)`", section, flags=re.M)}
    listed = _dependencies()
    assert named == listed, f"docs/decisions.md lists {sorted(named)}, pyproject.toml {sorted(listed)}"

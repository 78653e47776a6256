"""Style and types hold for the whole tree: ``ruff check``, ``ruff format --check`` and ``mypy``
with the settings in pyproject.toml (docs/decisions.md, "Checked style and types"). Each check's own
output is the failure message, so a red test says which line to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

BIN = Path(sys.executable).parent


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def test_ruff_check_passes():
    proc = _run("ruff", "check", "--no-cache", "--output-format", "concise")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    proc = _run("ruff", "format", "--check", "--no-cache")
    assert proc.returncode == 0, "run `ruff format`:\n" + proc.stdout + proc.stderr


def test_mypy_passes():
    """Strict on the verdict and the InfluxDB layer, plain elsewhere (pyproject.toml, [tool.mypy])."""
    proc = _run("mypy", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

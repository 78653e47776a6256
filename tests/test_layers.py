"""The layers of the code hold: ``lint-imports`` checks the contracts in pyproject.toml (no import
from a lower layer up, no import cycles inside a package; docs/decisions.md, "Layers")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_import_contracts_are_kept(tmp_path):
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint_imports), "--cache-dir", str(tmp_path)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 broken." in proc.stdout

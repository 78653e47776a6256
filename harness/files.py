"""Writing result files whole: whoever opens one (a CI step, a browser, an artifact upload)
must never see half of it, so each is written aside and renamed into place."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import HarnessError


def write_whole(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def write_files(out_dir: Path, files: dict[str, tuple[str, bytes]], what: str) -> dict[str, Path]:
    """``files``: kind → (file name, content). Returns kind → path; an OSError becomes one line
    naming ``what`` could not be written where."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return {kind: write_whole(out / name, data) for kind, (name, data) in files.items()}
    except OSError as exc:
        raise HarnessError(f"cannot write the {what} files to {out}: {exc.strerror or exc}") from None

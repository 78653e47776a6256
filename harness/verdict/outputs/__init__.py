"""The files a verdict leaves behind: verdict.json (machines), junit.xml (CI test reports)
and summary.md (a GitHub job summary)."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import HarnessError
from harness.verdict.model import Verdict
from harness.verdict.outputs import junit, summary_md, verdict_json
from harness.verdict.thresholds import Thresholds

FILE_NAMES = {"verdict_json": "verdict.json", "junit": "junit.xml", "summary_md": "summary.md"}


def write_outputs(verdict: Verdict, out_dir: Path, thresholds: Thresholds) -> dict[str, Path]:
    """Write the three files into ``out_dir``; returns {"verdict_json"|"junit"|"summary_md": path}."""
    out = Path(out_dir)
    contents = {
        "verdict_json": verdict_json.render(verdict, thresholds).encode("utf-8"),
        "junit": junit.render(verdict),
        "summary_md": summary_md.render(verdict, thresholds).encode("utf-8"),
    }
    paths = {}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for kind, data in contents.items():
            paths[kind] = _write_whole(out / FILE_NAMES[kind], data)
    except OSError as exc:
        raise HarnessError(f"cannot write the verdict files to {out}: {exc.strerror or exc}") from None
    return paths


def _write_whole(path: Path, data: bytes) -> Path:
    # A CI step reading the file must never see half of it, so write aside then rename.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path

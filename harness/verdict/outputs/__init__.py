"""The files a verdict leaves behind: verdict.json (machines), junit.xml (CI test reports)
and summary.md (a GitHub job summary)."""

from __future__ import annotations

from pathlib import Path

from harness.files import write_files
from harness.verdict.model import Verdict
from harness.verdict.outputs import junit, summary_md, verdict_json
from harness.verdict.rules.thresholds import Thresholds

FILE_NAMES = {"verdict_json": "verdict.json", "junit": "junit.xml", "summary_md": "summary.md"}


def write_outputs(verdict: Verdict, out_dir: Path, thresholds: Thresholds) -> dict[str, Path]:
    """Write the three files into ``out_dir``; returns {"verdict_json"|"junit"|"summary_md": path}."""
    contents = {
        "verdict_json": verdict_json.render(verdict, thresholds).encode("utf-8"),
        "junit": junit.render(verdict),
        "summary_md": summary_md.render(verdict, thresholds).encode("utf-8"),
    }
    return write_files(
        out_dir, {kind: (FILE_NAMES[kind], data) for kind, data in contents.items()}, "verdict"
    )

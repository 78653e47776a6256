"""Reports of one run, beside its verdict files: report.html (people), report.json (machines),
endpoints.csv and series.csv (spreadsheets). See docs/reports.md."""

from __future__ import annotations

from pathlib import Path

from harness.files import write_files
from harness.influx.client import InfluxClient
from harness.report import csv_out, html, report_json
from harness.report.parameters import read_parameters
from harness.report.series import read_series
from harness.report.sketch_series import read_sketch_series
from harness.report.view import build_view
from harness.verdict import Thresholds, Verdict

FILE_NAMES = {
    "report_html": "report.html",
    "report_json": "report.json",
    "endpoints_csv": "endpoints.csv",
    "series_csv": "series.csv",
}


def write_report(
    client: InfluxClient, verdict: Verdict, thresholds: Thresholds, out_dir: Path, *, runs_rp: str = "runs"
) -> dict[str, Path]:
    """Read the run's series and parameters from InfluxDB and write the four report files into
    ``out_dir``; returns {"report_html"|"report_json"|"endpoints_csv"|"series_csv": path}.

    Raises HarnessError (one line) when InfluxDB cannot be read or the folder cannot be written."""
    series = (
        read_sketch_series(client, verdict.run_id)
        if verdict.measurements.source == "sketches"
        else read_series(client, verdict.run_id)
    )
    view = build_view(verdict, thresholds, series, read_parameters(client, verdict.run_id, runs_rp))
    contents = {
        "report_html": html.render(view),
        "report_json": report_json.render(view),
        "endpoints_csv": csv_out.endpoints_csv(view),
        "series_csv": csv_out.series_csv(view),
    }
    return write_files(
        out_dir, {kind: (FILE_NAMES[kind], text.encode("utf-8")) for kind, text in contents.items()}, "report"
    )

"""report.html as a person sees it: a real Locust run against the sandbox with failing payments,
judged, reported, then opened offline in headless Chromium — charts drawn, nothing fetched, no
console errors, and a screenshot to look at."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from harness.report import write_report
from harness.sandbox.process import start_subprocess, stop_subprocess
from harness.verdict.judge import judge
from harness.verdict.rules.thresholds import Thresholds
from tests.helpers import chromium, run_locust
from tests.html_dom import external_references, parse_html

pytestmark = [pytest.mark.influx, pytest.mark.slow, pytest.mark.browser]

RUN = "report-browser"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def reported_run(influxd, chromium_path, tmp_path_factory):
    from harness.influx.client import InfluxClient, InfluxSettings

    out = tmp_path_factory.mktemp("report-browser")
    client = InfluxClient(InfluxSettings(url=influxd.url, database="t_report_browser"))
    proc, host = start_subprocess(port=0, faults=["payments:error_rate=0.3"])
    try:
        locust, counted = run_locust(host, influxd.url, "t_report_browser", RUN, users=20, run_time="8s")
    finally:
        stop_subprocess(proc)
    assert locust.returncode in (0, 1), locust.stderr[-2000:]
    thresholds = Thresholds()
    verdict, _ = judge(client, RUN, thresholds, out, generation_target=None)
    paths = write_report(client, verdict, thresholds, out)
    return {"verdict": verdict, "paths": paths, "out": out, "counted": counted}


def test_page_renders_every_chart_with_data_and_no_console_error(reported_run, chromium_path, tmp_path):
    page = reported_run["paths"]["report_html"]
    result = chromium(
        chromium_path, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []

    dom = parse_html(result.stdout)
    body = dom.find_all("body")[0]
    charts = dom.find_all("svg")
    with_data = [c for c in charts if int(c.attrs["data-points"]) > 0]
    # The page's own script checked, in the browser, that each of them laid out a visible line.
    assert body.attrs.get("data-render-ok") == "true"
    assert int(body.attrs["data-charts-drawn"]) == len(with_data)

    endpoints = (
        dom.find_all("section", class_="endpoint fail")
        + dom.find_all("section", class_="endpoint pass")
        + dom.find_all("section", class_="endpoint not-judged")
    )
    assert len(endpoints) >= 5  # the sandbox scenario calls auth, generation and payments endpoints
    assert len(with_data) >= 4 + 3 * len(endpoints) - 2
    payments = dom.find_all("section", data_endpoint="POST /api/v1/payments")[0]
    assert "fail" in payments.classes()
    success = payments.find_all("svg")[1]
    assert "limit 95 %" in success.all_text()
    assert int(success.find_all("path")[0].attrs["data-points"]) >= 5
    assert dom.find_all("header")[0].attrs["data-verdict"] == "fail"


def test_page_fetches_nothing_from_the_network(reported_run):
    assert external_references(reported_run["paths"]["report_html"].read_text()) == []


def test_screenshot_is_a_full_readable_page(reported_run, chromium_path, tmp_path):
    shot = reported_run["out"] / "report.png"
    result = chromium(
        chromium_path,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        reported_run["paths"]["report_html"].as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png_size(shot) == (1280, 2000)
    # A blank or error page compresses to a few KB; tables and charts take far more.
    assert shot.stat().st_size > 60_000, shot
    print(f"screenshot: {shot}")

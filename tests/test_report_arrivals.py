"""The report of an arrival-model run (the hand-written points of tests/test_measure_load.py): the load
table, arrivals asked against started over time, and p95 from the scheduled start beside the service time."""

from __future__ import annotations

import csv
import json

import pytest

from harness.report import write_report
from harness.rundata import store_verdict
from harness.verdict.judge import judge
from harness.verdict.rules.thresholds import Thresholds
from tests.arrival_points import RUN, write_run
from tests.helpers import chromium
from tests.html_dom import parse_html


@pytest.fixture
def report(influx_db, tmp_path):
    from harness.influx.schema import ensure_database

    ensure_database(influx_db, "runs")
    write_run(influx_db)
    thresholds = Thresholds()
    verdict, _ = judge(influx_db, RUN, thresholds, tmp_path, generation_target=None)
    paths = write_report(influx_db, verdict, thresholds, tmp_path)
    return {
        "verdict": verdict,
        "paths": paths,
        "json": json.loads(paths["report_json"].read_text()),
        "html": paths["report_html"].read_text(),
    }


@pytest.mark.influx
def test_report_json_holds_the_load_and_both_latencies(report):
    doc = report["json"]
    assert doc["load"]["model"] == "arrival" and doc["load"]["absent"] == ["auth", "generation"]
    assert doc["load"]["apis"]["payments"]["late"] == report["verdict"].measurements.load["payments"].late
    assert doc["endpoints"]["POST /api/v1/payments"]["scheduled"]["max"] == 24.0
    assert doc["endpoints"]["POST /api/v1/payments"]["p95"] == 5.0
    assert doc["apis"]["payments"]["scheduled"]["max"] == 3400.0


@pytest.mark.influx
def test_arrival_series_sum_the_points_of_every_worker(report):
    arrivals = report["json"]["arrivals"]["payments"]
    # 1 s buckets from the run's first request: each holds one point of each worker, 20 asked each
    # (but the last: w2's last point comes after the run's last request).
    assert {b["target_per_s"] for b in arrivals[:-1]} == {40.0}
    assert sum(b["late"] for b in arrivals) == 1 + 2 + 4 * 10
    # 30 seconds of two workers, 20 each, less the stall's 4 × 10; the last second of w2 ends after the
    # run's last request.
    assert sum(b["started_per_s"] for b in arrivals) == 20 * 60 - 40 - 20


@pytest.mark.influx
def test_series_hold_p95_from_the_scheduled_start_beside_the_service_time(report):
    series = report["json"]["series"]["POST /api/v1/payments"]
    assert all(b["p95"] == 5.0 for b in series)
    # 5 ms of service + 0–19 ms of lateness, twice a second: the 38th of 40 (InfluxDB's nearest rank).
    assert {b["p95_scheduled"] for b in series if b["requests"] == 40} == {23}
    rows = list(csv.DictReader(report["paths"]["series_csv"].open()))
    assert {
        r["p95_scheduled"] for r in rows if r["endpoint"] == "POST /api/v1/payments" and r["requests"] == "40"
    } == {"23"}
    endpoints = {r["endpoint"]: r for r in csv.DictReader(report["paths"]["endpoints_csv"].open())}
    assert endpoints["POST /api/v1/payments"]["p95_scheduled"] == str(
        report["json"]["endpoints"]["POST /api/v1/payments"]["scheduled"]["p95"]
    )


@pytest.mark.influx
def test_page_shows_the_load_table_and_charts(report):
    page = parse_html(report["html"])
    (table,) = page.find_all("table", id="arrivals")
    row = [td.all_text() for td in table.find_all("td")]
    assert row[:3] == ["payments", "POST /api/v1/payments", "40"]
    assert "No rate, so not run and not judged: auth, generation." in report["html"]
    (endpoints,) = page.find_all("table", id="endpoints")
    assert "p95 ms from sched." in endpoints.all_text()
    titles = [svg.attrs["aria-label"] for svg in page.find_all("svg")]
    assert "Arrivals/s — payments: asked and started" in titles
    assert "Late and dropped arrivals — payments" in titles
    (card,) = page.find_all("section", data_endpoint="POST /api/v1/payments")
    (p95,) = [svg for svg in card.find_all("svg") if svg.attrs["aria-label"] == "p95 latency"]
    legend = [t.all_text() for t in p95.find_all("text", class_="legend")]
    assert legend == ["\u25cf from scheduled start", "\u25cf service time"]
    assert len(p95.find_all("path", class_="series")) == 2


@pytest.mark.influx
def test_run_summary_keeps_the_load_and_latency_from_the_scheduled_start(influx_db, tmp_path):
    from harness.influx.schema import ensure_database

    ensure_database(influx_db, "runs")
    write_run(influx_db)
    verdict, _ = judge(influx_db, RUN, Thresholds(), tmp_path, generation_target=None)
    store_verdict(influx_db, "runs", verdict)  # what harness run and harness check do after judging
    m = verdict.measurements
    rows = {
        s["tags"]["scope"] + ":" + s["tags"]["endpoint"]: dict(zip(s["columns"], s["values"][0]))
        for s in influx_db.query(
            f'SELECT * FROM "runs"."run_summary" WHERE "run_id" = \'{RUN}\' GROUP BY "scope", "endpoint"'
        )
    }
    api = rows["api:api:payments"]
    assert (api["target_per_s"], api["late"], api["dropped"]) == (40.0, 43, 0)
    assert api["achieved_per_s"] == 38.0
    assert api["p95_scheduled"] == m.scheduled_apis["payments"].p95
    assert rows["endpoint:POST /api/v1/payments"]["p99_scheduled"] == m.scheduled["POST /api/v1/payments"].p99
    run = rows["run:run"]
    assert (run["load_model"], run["late"], run["dropped"]) == ("arrival", 43, 0)


@pytest.mark.influx
@pytest.mark.browser
def test_the_arrival_charts_render_in_a_browser(report, chromium_path, tmp_path):
    result = chromium(
        chromium_path, tmp_path / "profile", "--dump-dom", report["paths"]["report_html"].as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = parse_html(result.stdout)
    body = dom.find_all("body")[0]
    with_data = [c for c in dom.find_all("svg") if int(c.attrs["data-points"]) > 0]
    assert body.attrs.get("data-render-ok") == "true"
    assert int(body.attrs["data-charts-drawn"]) == len(with_data)
    assert {"Arrivals/s — payments: asked and started", "Late and dropped arrivals — payments"} <= {
        c.attrs["aria-label"] for c in with_data
    }

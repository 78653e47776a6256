"""The report files of a run with known points in a real InfluxDB: every number traced back to
the points written, the page self-contained, limits drawn where the verdict put them."""

from __future__ import annotations

import csv
import json
import time

import pytest

from harness import cli
from harness.influx.lineprotocol import make_line
from harness.influx.schema import ensure_database
from harness.report import write_report
from harness.report.series import MAX_POINTS, choose_interval
from harness.report.svg import Chart, Limit, Line, nice_step, render, y_range
from harness.rundata import store_verdict, thresholds_json
from harness.verdict.judge import judge
from harness.verdict.rules.thresholds import Thresholds, parse_thresholds
from tests.html_dom import external_references, parse_html

RUN = "rep-synthetic"
SECONDS = 60
SLOW = range(40, 50)  # seconds in which payments answer in 400 ms, above its 300 ms limit


# -- a run with known points ------------------------------------------------------------------
def write_synthetic_run(
    client,
    run_id: str = RUN,
    *,
    store_run: bool = True,
    run_thresholds: Thresholds | None = None,
    payments_ms: float = 50.0,
    t0: int | None = None,
) -> int:
    """60 s: GET /health 5/s at 10–14 ms, all ok; POST /api/v1/payments 4/s at 50 ms with one
    failure (80 ms) a second, 400 ms in the SLOW seconds. Starts a quarter second past a whole
    second, so the buckets must be aligned to the run, not to the clock. Returns the start (ns)."""
    ensure_database(client, "runs")
    if t0 is None:
        t0 = (time.time_ns() // 1_000_000_000 - 600) * 1_000_000_000 + 250_000_000
    base = {"run_id": run_id, "test_env": "test", "worker": "w1"}
    lines = []
    for s in range(SECONDS):
        for i in range(5):
            lines.append(
                make_line(
                    "request",
                    {
                        **base,
                        "api": "auth",
                        "name": "/health",
                        "method": "GET",
                        "result": "ok",
                        "status": "200",
                    },
                    {"response_time": 10.0 + i, "response_length": 2},
                    t0 + s * 10**9 + i * 200_000_000,
                )
            )
        for i in range(4):
            failed = i == 3
            rt = 400.0 if s in SLOW else (80.0 if failed else payments_ms)
            lines.append(
                make_line(
                    "request",
                    {
                        **base,
                        "api": "payments",
                        "name": "/api/v1/payments",
                        "method": "POST",
                        "result": "fail" if failed else "ok",
                        "status": "500" if failed else "201",
                    },
                    {"response_time": rt, "response_length": 10},
                    t0 + s * 10**9 + i * 250_000_000 + 1_000_000,
                )
            )
        lines.append(
            make_line(
                "users",
                {"run_id": run_id, "test_env": "test", "worker": "w1"},
                {"users": min(10, 2 * (s + 1)), "cpu_percent": 20.0},
                t0 + s * 10**9 + 500_000_000,
            )
        )
    lines.append(
        make_line(
            "listener_stats",
            {"run_id": run_id, "test_env": "test", "worker": "w1"},
            {
                "seen": SECONDS * 9,
                "written": SECONDS * 9,
                "retried": 0,
                "dropped": 0,
                "pending": 0,
                "final": True,
            },
            t0,
        )
    )
    client.write(("\n".join(lines) + "\n").encode())
    if store_run:
        fields = {
            "host": "http://127.0.0.1:9",
            "users": 10,
            "spawn_rate": 2,
            "run_time_s": SECONDS,
            "processes": 1,
            "description": "synthetic",
            "git_sha": "abc1234",
            "version": "0.1.0",
            "thresholds": thresholds_json(run_thresholds or Thresholds()),
            "status": "completed",
        }
        client.write(
            (make_line("run", {"run_id": run_id, "test_env": "test"}, fields, t0) + "\n").encode(),
            retention_policy="runs",
        )
    return t0


@pytest.fixture
def report(influx_db, tmp_path):
    t0 = write_synthetic_run(influx_db)
    thresholds = Thresholds()
    verdict, _ = judge(influx_db, RUN, thresholds, tmp_path, generation_target=None)
    paths = write_report(influx_db, verdict, thresholds, tmp_path)
    return {
        "t0": t0,
        "verdict": verdict,
        "paths": paths,
        "dir": tmp_path,
        "json": json.loads(paths["report_json"].read_text()),
        "html": paths["report_html"].read_text(),
    }


# -- choosing the interval, drawing charts (no InfluxDB) -------------------------------------------
@pytest.mark.parametrize(
    "duration_s, interval",
    [(8, 1), (60, 1), (300, 1), (301, 2), (600, 2), (1800, 10), (3600, 15), (6 * 3600, 120), (86400, 300)],
)
def test_interval_keeps_charts_at_most_300_points(duration_s, interval):
    assert choose_interval(duration_s) == interval
    assert duration_s / interval <= MAX_POINTS
    if duration_s >= 60:  # enough points to see a trend
        assert duration_s / interval >= 60


@pytest.mark.parametrize("span, step", [(100, 20), (1, 0.2), (7, 2), (450, 100), (0.03, 0.01)])
def test_axis_steps_are_1_2_5(span, step):
    assert nice_step(span) == pytest.approx(step)


def test_axis_always_shows_the_limit_line_even_far_above_the_data():
    chart = Chart(
        "p95",
        "ms",
        [Line("p95", [(0, 5.0), (1, 8.0)])],
        x_max=1,
        limits=[Limit(500, "limit 500 ms")],
        y_min=0.0,
    )
    low, high = y_range(chart)
    assert low == 0 and high >= 500


def test_chart_without_points_says_no_data():
    svg = parse_html(render(Chart("p95", "ms", [Line("p95", [])], x_max=10)))
    assert svg.find_all("svg")[0].attrs["data-points"] == "0"
    assert "no data" in svg.all_text()
    assert not svg.find_all("path")


# -- the report of a real stored run --------------------------------------------------------------
@pytest.mark.influx
def test_all_four_files_are_written_beside_the_verdict(report):
    names = {p.name for p in report["dir"].iterdir()}
    assert {
        "report.html",
        "report.json",
        "endpoints.csv",
        "series.csv",
        "verdict.json",
        "summary.md",
    } <= names
    assert set(report["paths"]) == {"report_html", "report_json", "endpoints_csv", "series_csv"}
    assert not [n for n in names if n.endswith(".tmp")]


@pytest.mark.influx
def test_json_series_match_the_points_written(report):
    doc = report["json"]
    assert doc["schema_version"] == 1 and doc["run_id"] == RUN and doc["verdict"] == "fail"
    assert doc["interval_s"] == 1
    health, payments = doc["series"]["GET /health"], doc["series"]["POST /api/v1/payments"]
    # Buckets start at the run's first point: each holds exactly one second of the run.
    assert len(health) == len(payments) == SECONDS
    assert all(b["requests"] == 5 and b["failures"] == 0 and b["p95"] == 14.0 for b in health)
    assert all(b["requests"] == 4 and b["failures"] == 1 and b["success_rate"] == 75.0 for b in payments)
    assert [b["p95"] for b in payments] == [400.0 if s in SLOW else 80.0 for s in range(SECONDS)]
    assert all(b["rps"] == 5.0 for b in health[:-1])
    # The last bucket runs to the last request (0.8 s in): its rate is over that part only.
    assert health[-1]["rps"] == pytest.approx(5 / 0.8)
    assert sum(b["requests"] for b in doc["total"]) == SECONDS * 9
    assert doc["users"][0]["users"] == 2 and doc["users"][-1]["users"] == 10
    assert doc["completeness"]["missing"] == 0


@pytest.mark.influx
def test_json_summary_checks_and_parameters_agree_with_the_verdict(report):
    doc, verdict = report["json"], report["verdict"]
    assert len(doc["checks"]) == len(verdict.checks)
    failed = {(c["scope"], c["metric"]) for c in doc["checks"] if c["passed"] is False}
    assert ("POST /api/v1/payments", "success_rate") in failed and ("POST /api/v1/payments", "p95") in failed
    pay = doc["endpoints"]["POST /api/v1/payments"]
    assert pay["status"] == "fail" and pay["limits"] == {"min_success_rate": 95.0, "max_p95_ms": 300.0}
    assert pay["requests"] == verdict.measurements.endpoints["POST /api/v1/payments"].requests
    assert doc["endpoints"]["GET /health"]["status"] == "pass"
    assert doc["parameters"]["description"] == "synthetic" and doc["parameters"]["users"] == 10
    assert doc["parameters"]["thresholds"]["apis"]["payments"]["max_p95_ms"] == 300.0


@pytest.mark.influx
def test_csv_files_hold_the_same_numbers_as_the_json(report):
    doc = report["json"]
    endpoints = list(csv.DictReader(report["paths"]["endpoints_csv"].open()))
    assert [r["endpoint"] for r in endpoints] == sorted(doc["endpoints"])
    for row in endpoints:
        e = doc["endpoints"][row["endpoint"]]
        assert int(row["requests"]) == e["requests"] and float(row["p95"]) == e["p95"]
        assert row["status"] == e["status"]
    series = list(csv.DictReader(report["paths"]["series_csv"].open()))
    assert len(series) == sum(len(s) for s in doc["series"].values())
    first = next(r for r in series if r["endpoint"] == "POST /api/v1/payments")
    assert first["time"] == doc["series"]["POST /api/v1/payments"][0]["t"]
    assert (int(first["requests"]), int(first["failures"]), float(first["success_rate"])) == (4, 1, 75.0)


@pytest.mark.influx
def test_page_is_self_contained_and_lists_every_check(report):
    page = report["html"]
    assert external_references(page) == []
    dom = parse_html(page)
    assert dom.find_all("header")[0].attrs["data-verdict"] == "fail"
    assert not [s for s in dom.find_all("script") if "src" in s.attrs]
    assert not dom.find_all("link")
    rows = dom.find_all("table", id="checks")[0].find_all("tr")
    assert len(rows) == 1 + len(report["verdict"].checks)
    text = dom.all_text()
    for check in report["verdict"].checks:
        assert check.message in text
    assert "synthetic" in dom.find_all("table", id="run")[0].all_text()


@pytest.mark.influx
def test_p95_chart_draws_the_limit_and_the_slow_seconds_above_it(report):
    dom = parse_html(report["html"])
    section = dom.find_all("section", data_endpoint="POST /api/v1/payments")[0]
    p95_chart = section.find_all("svg")[0]
    assert p95_chart.attrs["aria-label"] == "p95 latency"
    limit = p95_chart.find_all("line")[-1]
    assert "threshold" in limit.classes() and "limit 300 ms" in p95_chart.all_text()
    path = p95_chart.find_all("path")[0]
    assert path.attrs["data-points"] == str(SECONDS)
    limit_y = float(limit.attrs["y1"])
    above = [
        c for c in p95_chart.find_all("circle") if float(c.attrs["cy"]) < limit_y
    ]  # SVG y grows downwards
    assert len(above) == len(SLOW)
    success_chart = section.find_all("svg")[1]
    assert "limit 95 %" in success_chart.all_text()


@pytest.mark.influx
def test_the_comparison_with_a_baseline_is_a_table_and_a_line_on_the_charts(influx_db, tmp_path):
    # The same run an hour earlier with payments at 30 ms instead of 50 ms, stored as a baseline.
    t0 = write_synthetic_run(influx_db)
    write_synthetic_run(influx_db, "rep-base", payments_ms=30.0, t0=t0 - 3600 * 10**9)
    base, _ = judge(influx_db, "rep-base", Thresholds(), tmp_path / "base", generation_target=None)
    store_verdict(influx_db, "runs", base)
    verdict, _ = judge(influx_db, RUN, Thresholds(), tmp_path, generation_target=None, baseline="rep-base")
    paths = write_report(influx_db, verdict, Thresholds(), tmp_path)
    dom = parse_html(paths["report_html"].read_text())
    rows = {
        (r.attrs["data-scope"], r.attrs["data-statistic"]): r
        for r in dom.find_all("tr")
        if "data-statistic" in r.attrs
    }
    assert len(rows) == len(verdict.comparisons) == 4 * 4
    # Its slow seconds make payments' windows differ a lot: the interval is wide.
    p50 = rows[("POST /api/v1/payments", "p50")]
    cells = [c.all_text() for c in p50.find_all("td")]
    found = next(c for c in verdict.comparisons if (c.scope, c.statistic) == ("POST /api/v1/payments", "p50"))
    assert cells[:5] == ["POST /api/v1/payments", "p50", "30 ms", "50 ms", "+20 ms (+66.7 %)"]
    assert (
        cells[5] == f"−{abs(found.low):.1f} … +{found.high:.1f} ms"
        and cells[6] == found.decision == "inconclusive"
    )
    assert "not-judged" in p50.classes() and p50.find_all("td")[6].attrs["title"] == found.reason
    health = rows[("GET /health", "p50")]  # the same 10–14 ms every second in both runs: no spread at all
    assert [c.all_text() for c in health.find_all("td")][2:] == [
        "12 ms",
        "12 ms",
        "+0 ms (+0 %)",
        "—",
        "inconclusive",
    ]
    assert "no spread in this run" in health.find_all("td")[6].attrs["title"]
    assert "The run is the unit" in dom.all_text()
    assert (
        rows[("GET /health", "p95")].find_all("td")[6].all_text() == "inconclusive"
    )  # 275 requests: 300 needed
    doc = json.loads(paths["report_json"].read_text())
    assert doc["baseline"]["run_ids"] == ["rep-base"]
    assert [(c["scope"], c["statistic"], c["decision"]) for c in doc["comparisons"]] == [
        (c.scope, c.statistic, c.decision) for c in verdict.comparisons
    ]
    section = dom.find_all("section", data_endpoint="POST /api/v1/payments")[0]
    # The regression line: the baseline's p95 (its slow seconds: 400 ms) plus the minimum effect, 10 %.
    assert "baseline 400 ms + 40: 440 ms" in section.find_all("svg")[0].all_text()
    assert "baseline 75 % − 1: 74 %" in section.find_all("svg")[1].all_text()  # one failure in four


@pytest.mark.influx
def test_harness_report_rebuilds_the_files_for_a_stored_run(influx_db, tmp_path, capsys):
    write_synthetic_run(influx_db)
    defaults = tmp_path / "thresholds.yaml"
    defaults.write_text("# built-in defaults\n")
    args = [
        "report",
        "--run-id",
        RUN,
        "--out",
        str(tmp_path),
        "--influx-url",
        influx_db.settings.url,
        "--influx-db",
        influx_db.settings.database,
        "--thresholds-file",
        str(defaults),
    ]
    assert cli.main(args) == 1  # a failing run: exit code as harness check
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and "report.html" in out
    assert json.loads((tmp_path / "report.json").read_text())["run_id"] == RUN
    # Nothing was stored: harness report reads, it does not judge the run again in InfluxDB.
    assert influx_db.query(f'SELECT * FROM "runs"."run_summary" WHERE "run_id" = \'{RUN}\'') == []


@pytest.mark.influx
def test_stored_thresholds_judge_the_run_as_it_was_judged(influx_db, tmp_path, capsys):
    lenient = parse_thresholds(
        {"apis": {"payments": {"min_success_rate": 70, "max_p95_ms": 500}}}, source="lenient.yaml"
    )
    write_synthetic_run(influx_db, run_thresholds=lenient)
    args = [
        "report",
        "--run-id",
        RUN,
        "--out",
        str(tmp_path),
        "--stored-thresholds",
        "--influx-url",
        influx_db.settings.url,
        "--influx-db",
        influx_db.settings.database,
    ]
    assert cli.main(args) == 0, capsys.readouterr().out
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["endpoints"]["POST /api/v1/payments"]["limits"]["max_p95_ms"] == 500.0
    assert doc["thresholds_source"] == f"thresholds stored with run {RUN}"


@pytest.mark.influx
def test_unknown_run_and_missing_stored_thresholds_are_one_line_errors(influx_db, tmp_path, capsys):
    common = [
        "--out",
        str(tmp_path),
        "--influx-url",
        influx_db.settings.url,
        "--influx-db",
        influx_db.settings.database,
    ]
    write_synthetic_run(influx_db, run_id="no-run-point", store_run=False)
    assert cli.main(["report", "--run-id", "never-ran", *common]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness: error: ") and "never-ran" in err and "\n" not in err
    assert cli.main(["report", "--run-id", "no-run-point", "--stored-thresholds", *common]) == 2
    err = capsys.readouterr().err.strip()
    assert "--stored-thresholds" in err and "\n" not in err


def test_unreachable_influxdb_is_a_one_line_error(tmp_path, capsys):
    code = cli.main(["report", "--run-id", RUN, "--out", str(tmp_path), "--influx-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("harness: error: ") and "unreachable" in err and "\n" not in err


@pytest.mark.influx
def test_endpoint_seen_only_in_the_warmup_is_charted_unjudged_and_its_name_escaped(influx_db, tmp_path):
    t0 = write_synthetic_run(influx_db)
    odd = "/api/v1/auth/<b>odd</b>"  # a custom locustfile may name requests anything
    influx_db.write(
        "\n".join(
            make_line(
                "request",
                {
                    "run_id": RUN,
                    "test_env": "test",
                    "worker": "w1",
                    "api": "auth",
                    "name": odd,
                    "method": "GET",
                    "result": "ok",
                    "status": "200",
                },
                {"response_time": 5.0, "response_length": 1},
                t0 + 100_000_000 + i * 1000,
            )
            for i in range(3)
        ).encode()
        + b"\n"
    )
    verdict, _ = judge(influx_db, RUN, Thresholds(), tmp_path, generation_target=None)
    paths = write_report(influx_db, verdict, Thresholds(), tmp_path)
    doc = json.loads(paths["report_json"].read_text())
    key = f"GET {odd}"
    assert doc["endpoints"][key]["requests"] == 0 and doc["endpoints"][key]["status"] == "none"
    assert [b["requests"] for b in doc["series"][key]] == [3]
    page = paths["report_html"].read_text()
    assert "<b>odd</b>" not in page and "&lt;b&gt;odd&lt;/b&gt;" in page
    section = parse_html(page).find_all("section", data_endpoint=key)[0]
    assert section.find_all("svg")[0].attrs["data-points"] == "1"

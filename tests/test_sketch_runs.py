"""Sketch mode on real runs (``--influx-points``): with ``both`` the same run judged from its
request points and from its sketches gives equal counts and failures, every percentile within the
sketch's 1 %, and the same verdict — in the users model and the arrival model, two workers each; a
sketches-only run stores no request point and at most one sketch point per series and second, is
judged, reported and compared with a requests run both ways."""

from __future__ import annotations

import json

import pytest

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.sketch import RELATIVE_ACCURACY
from tests.helpers import harness

pytestmark = [pytest.mark.influx, pytest.mark.slow]

STATISTICS = ("p50", "p95", "p99")


def _database(influxd, name: str) -> InfluxClient:
    client = InfluxClient(InfluxSettings(url=influxd.url, database=name))
    client.query_results(f'DROP DATABASE "{name}"', method="POST", epoch="")
    return client


def _check(influxd, db: str, run_id: str, out, *more: str) -> tuple[int, dict]:
    proc = harness(
        "check",
        "--run-id",
        run_id,
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--no-store",
        "--out",
        str(out),
        *more,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads((out / "verdict.json").read_text())


def assert_same_judgement(sketches: dict, requests: dict) -> None:
    assert sketches["source"]["points"] == "sketches" and requests["source"]["points"] == "requests"
    assert "1%" in sketches["source"]["accuracy"]
    assert sketches["verdict"] == requests["verdict"]
    assert sketches["completeness"] == requests["completeness"]
    assert sketches["window"]["start_ns"] == requests["window"]["start_ns"]
    for scope in ("endpoints", "apis"):
        assert set(sketches[scope]) == set(requests[scope])
        for key, exact in requests[scope].items():
            sketched = sketches[scope][key]
            assert (sketched["requests"], sketched["failures"]) == (exact["requests"], exact["failures"]), key
            assert sketched["max"] == pytest.approx(exact["max"], rel=1e-9), key
            for statistic in STATISTICS:
                if exact[statistic] is not None:
                    assert (
                        abs(sketched[statistic] - exact[statistic])
                        <= RELATIVE_ACCURACY * exact[statistic] + 1e-9
                    ), (key, statistic, sketched[statistic], exact[statistic])
            if exact.get("scheduled"):
                for statistic in STATISTICS:
                    e, s = exact["scheduled"][statistic], sketched["scheduled"][statistic]
                    assert abs(s - e) <= RELATIVE_ACCURACY * e + 1e-9, (key, "scheduled", statistic, s, e)
    assert [c["passed"] for c in sketches["checks"]] == [c["passed"] for c in requests["checks"]]


@pytest.mark.parametrize("model", ["users", "arrival"])
def test_both_sources_of_one_run_agree_with_two_workers(influxd, tmp_path, model):
    db = f"t_sketch_both_{model}"
    _database(influxd, db)
    run_id = f"sketch-both-{model}"
    load = (
        ["--users", "20", "--run-time", "20s"]
        if model == "users"
        else ["--rate", "generation=8", "--rate", "payments=8", "--users", "30", "--run-time", "25s"]
    )
    proc = harness(
        "run",
        *load,
        "--processes",
        "2",
        "--influx-points",
        "both",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--run-id",
        run_id,
        "--out",
        str(tmp_path / "run"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code_s, from_sketches = _check(influxd, db, run_id, tmp_path / "s", "--from", "sketches")
    code_r, from_requests = _check(influxd, db, run_id, tmp_path / "r", "--from", "requests")
    assert code_s == code_r == 0
    assert from_requests["completeness"]["workers"] == 2
    assert_same_judgement(from_sketches, from_requests)
    if model == "arrival":
        for api, load_r in from_requests["load"]["apis"].items():
            load_s = from_sketches["load"]["apis"][api]
            assert [w["key_requests_per_s"] for w in load_s["windows"]] == [
                w["key_requests_per_s"] for w in load_r["windows"]
            ], api


def test_a_sketches_run_fails_on_its_limits_stores_no_request_point_and_serves_as_a_baseline_both_ways(
    influxd, tmp_path
):
    db = "t_sketch_only"
    client = _database(influxd, db)
    faulty = harness(
        "run",
        "--users",
        "20",
        "--run-time",
        "20s",
        "--influx-points",
        "sketches",
        "--fault",
        "payments:error_rate=0.5",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--run-id",
        "sketch-faulty",
        "--out",
        str(tmp_path / "faulty"),
    )
    assert faulty.returncode == 1, faulty.stdout + faulty.stderr
    assert "api:payments: success rate" in faulty.stdout
    assert (tmp_path / "faulty" / "report.html").exists()
    assert not client.query('SELECT count("response_time") FROM "request" WHERE "run_id" = \'sketch-faulty\'')
    most = client.query(
        'SELECT max("n") FROM (SELECT count("count") AS "n" FROM "request_sketch" '
        "WHERE \"run_id\" = 'sketch-faulty' GROUP BY time(1s), *)"
    )
    assert most[0]["values"][0][1] == 1
    stored = client.query('SELECT sum("count") FROM "request_sketch" WHERE "run_id" = \'sketch-faulty\'')[0]
    seen = client.query('SELECT last("seen") FROM "listener_stats" WHERE "run_id" = \'sketch-faulty\'')[0]
    assert stored["values"][0][1] == seen["values"][0][1] > 0
    fleet = client.query(
        'SELECT sum("count") FROM "request_sketch_fleet" WHERE "run_id" = \'sketch-faulty\''
    )[0]
    assert fleet["values"][0][1] == stored["values"][0][1]
    # Completeness counts the requests inside the sketch points, and says so.
    faulty_verdict = json.loads((tmp_path / "faulty" / "verdict.json").read_text())
    (complete,) = [c for c in faulty_verdict["checks"] if c["metric"] == "completeness"]
    assert complete["message"] == f"run: all {seen['values'][0][1]} requests in sketch points are in InfluxDB"
    assert "requests in sketch points stored in InfluxDB" in (tmp_path / "faulty" / "summary.md").read_text()

    # A requests run and a sketches run of the same load, each the other's baseline.
    for run_id, points in (("sketch-base-r", "requests"), ("sketch-base-s", "sketches")):
        proc = harness(
            "run",
            "--users",
            "20",
            "--run-time",
            "20s",
            "--influx-points",
            points,
            "--influx-url",
            influxd.url,
            "--influx-db",
            db,
            "--run-id",
            run_id,
            "--out",
            str(tmp_path / run_id),
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for run_id, baseline in (("sketch-base-r", "sketch-base-s"), ("sketch-base-s", "sketch-base-r")):
        code, verdict = _check(influxd, db, run_id, tmp_path / f"cmp-{run_id}", "--baseline", baseline)
        assert verdict["baseline_run_id"] == baseline
        assert verdict["comparisons"], verdict["warnings"]
        assert code == 0, [c for c in verdict["comparisons"] if c["decision"] == "regressed"]

"""Live checks end to end: real Locust, real InfluxDB, the real CLI.

Three short runs, each shared by several assertions: a doomed run that ``harness run
--abort-on-fail`` stops early, a healthy run that goes its full time, and plain ``locust`` as a
master with two workers, stopped on the workers' CPU (the master judges every worker's points).
Short windows (``after_s`` 7 or 9, ``window_s`` 4) keep them quick; the issue's own acceptance
run (5 minutes, ``after_s`` 30, ``window_s`` 20) is recorded in bench/README.md.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
import requests

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.lineprotocol import make_line
from harness.influx.local import free_port
from harness.sandbox.process import start_subprocess, stop_subprocess
from harness.verdict.model import AbortRecord, Breach
from harness.verdict.outputs.abort import event_line
from tests import dashboard_queries as dq
from tests.helpers import harness, load_dashboards, stored_count, wait_for, web_ui_locust

pytestmark = [pytest.mark.influx, pytest.mark.slow]

# warmup_s 1: the first whole window after the warm-up is stored by t = 1 + 2 (settling) + 4 s.
FAST = "warmup_s: 1\nabort: {after_s: 7, window_s: 4, every_s: 1}\n"
# A doomed run: 80 % of payments failing. The abort is confirmed on the judged run's points outside
# its window, so the first look comes at t=9 s (window t=3–7 s) to leave 1–3 s and 7 s to the stop
# outside it. With half failing and the first look at t=7 s (about 2 s outside), a loaded machine
# once saw 3 of 12 fail there (p = 0.02 > 0.005), and at t=9 s once 3 of 16 of GET /payments:
# a confirmation that weak data cannot make, so the run was FAIL but "not confirmed". At 80 %,
# 16 requests outside leave P(fewer than the 5 failures needed) = 3e-6 (12: 6e-5).
DOOMED = "warmup_s: 1\nabort: {after_s: 9, window_s: 4, every_s: 1}\n"
RUN_TIME_S = 60


def fresh_db(influxd, name: str) -> InfluxClient:
    client = InfluxClient(InfluxSettings(url=influxd.url, database=name))
    client.query_results(f'DROP DATABASE "{name}"', method="POST", epoch="")
    return client


def harness_run(influxd, db: str, out, thresholds, *extra: str):
    began = time.monotonic()
    proc = harness(
        "run",
        "--users",
        "20",
        "--spawn-rate",
        "20",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--out",
        str(out),
        "--thresholds-file",
        str(thresholds),
        "--abort-on-fail",
        *extra,
    )
    return proc, time.monotonic() - began


def locust_count(out) -> int:
    return sum(e["num_requests"] for e in json.loads((out / "locust_stats.json").read_text()))


def live_annotation(client: InfluxClient, run_id: str, name: str) -> list[dict]:
    """The rows an annotation of the live dashboard shows for a run, queried as Grafana would."""
    dashboard = load_dashboards()["loadtest-live"]
    (item,) = [i for i in dq.queries(dashboard) if i.kind == "annotation" and i.title == name]
    now_ms = int(time.time() * 1000)
    context = dq.Context(dq.TimeRange(now_ms - 15 * 60_000, now_ms + 60_000))
    run_query = lambda q: client.query_results(q, epoch="ms")  # noqa: E731
    dq.resolve_variables(dashboard, context, run_query, {"run_id": [run_id]})
    ((_, query),) = dq.expand(item, context)
    return [
        dict(zip(s["columns"], row))
        for r in run_query(query)
        for s in r.get("series", [])
        for row in s["values"]
    ]


def seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def doomed(influxd, tmp_path_factory):
    """80 % of payments fail: stopped at the first whole window, long before its 60 s."""
    client = fresh_db(influxd, "t_abort_doomed")
    tmp = tmp_path_factory.mktemp("doomed")
    (tmp / "abort.yaml").write_text(DOOMED)
    proc, elapsed = harness_run(
        influxd,
        "t_abort_doomed",
        tmp / "out",
        tmp / "abort.yaml",
        "--run-id",
        "doomed",
        "--run-time",
        f"{RUN_TIME_S}s",
        "--fault",
        "payments:error_rate=0.8",
    )
    return client, proc, elapsed, tmp / "out"


def test_a_doomed_run_stops_early_and_fails_naming_payments_and_the_abort(doomed):
    _, proc, elapsed, out = doomed
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    abort = verdict["abort"]
    assert verdict["verdict"] == "fail" and abort["kind"] == "fail" and abort["confirmed"] is True
    assert "payments" in abort["check"] and abort["check"].endswith("success_rate")
    assert (
        verdict["reasons"][0].startswith("aborted at t=")
        and "payments: success rate" in verdict["reasons"][0]
    )
    assert abort["window"]["duration_s"] == 4.0 and abort["live"][0]["observed"] < 95
    assert abort["exact"][0]["passed"] is False and abort["exact"][0]["requests"] >= 20
    # Decided by the exact test, with the dispersion of the per-second counts of the window and
    # the seconds before it from the warm-up's end (t=1 s) on: independent failures, so φ stays
    # near 1. Confirmed by the same test on the points outside the window.
    test = abort["live"][0]["test"]
    assert test["p_value"] <= test["level"] and test["dispersion_seconds"] >= 4
    assert 1.0 <= test["dispersion"] < 3, test
    assert abort["looks"]["alpha"] == 0.01 and abort["looks"]["of"] == 52  # 60 s run, from t=9 s every 1 s
    assert abort["confirmation"]["data"] == "the judged run's points outside the window that triggered it"
    assert abort["confirmation"]["tests"][0]["rejected"] is True
    # Stopped at the first whole window (t≈9 s), not after its 60 s: the run's points span
    # the abort plus the users' stop, and the whole command took far less than the run time.
    assert 9 <= abort["at_s"] < 17, abort["at_s"]
    judged_until = (
        seconds(verdict["window"]["end"])
        - seconds(verdict["window"]["start"])
        + verdict["window"]["warmup_s"]
    )
    assert judged_until < 30, judged_until
    assert elapsed < RUN_TIME_S, elapsed


def test_the_stored_points_still_equal_locusts_count_after_an_abort(doomed):
    client, _, _, out = doomed
    verdict = json.loads((out / "verdict.json").read_text())
    counted = locust_count(out)
    assert counted > 200
    assert stored_count(client, "doomed") == counted
    assert verdict["completeness"]["missing"] == 0


def test_the_abort_is_an_annotation_and_in_every_summary(doomed):
    client, _, _, out = doomed
    status = client.query('SELECT last("status") FROM "runs"."run" WHERE "run_id" = \'doomed\'')[0]["values"][
        0
    ][1]
    assert status == "aborted"
    rows = live_annotation(client, "doomed", "Run events")
    aborts = [r for r in rows if r["title"] == "Run aborted"]
    assert (
        len(aborts) == 1 and aborts[0]["text"].startswith("aborted at t=") and "payments" in aborts[0]["text"]
    )
    assert aborts[0]["tags"] == "abort,local"
    assert "| Aborted | at t=" in (out / "summary.md").read_text()
    html = (out / "report.html").read_text()
    assert 'class="mark"' in html and "stopped early by the live checks at t=" in html
    assert json.loads((out / "report.json").read_text())["abort"]["confirmed"] is True


def test_a_healthy_run_with_live_checks_runs_its_full_time_and_passes(influxd, tmp_path):
    fresh_db(influxd, "t_abort_healthy")
    (tmp_path / "abort.yaml").write_text(FAST)
    proc, elapsed = harness_run(
        influxd, "t_abort_healthy", tmp_path, tmp_path / "abort.yaml", "--run-time", "15s"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["verdict"] == "pass" and verdict["abort"] is None
    window = verdict["window"]
    assert seconds(window["end"]) - seconds(window["start"]) + window["warmup_s"] >= 14
    # The checks did run, every second from t=7 s: they judged windows and let the run go on.
    log = (tmp_path / "locust.log").read_text()
    judged = [line for line in log.splitlines() if "windows judged" in line]
    assert judged and int(judged[0].split("live checks: ")[1].split()[0]) >= 5, judged


def test_a_slow_api_is_stopped_on_its_count_of_requests_slower_than_the_p95_limit(influxd, tmp_path):
    """Payments answering in 400 ms against their 300 ms p95 limit: the window's requests slower
    than the limit (an InfluxQL COUNT with a WHERE on the field) reject "at most 5 % are"."""
    fresh_db(influxd, "t_abort_slow")
    (tmp_path / "abort.yaml").write_text(FAST)
    proc, elapsed = harness_run(
        influxd,
        "t_abort_slow",
        tmp_path,
        tmp_path / "abort.yaml",
        "--run-time",
        "60s",
        "--fault",
        "payments:latency_ms=400",
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    abort = json.loads((tmp_path / "verdict.json").read_text())["abort"]
    assert abort["check"] == "api:payments p95" and abort["confirmed"] is True
    live = abort["live"][0]["test"]
    # Every payment took 400 ms: every one in the window is slower than the limit.
    assert live["metric"] == "p95" and live["count"] == live["n"] == abort["live"][0]["requests"] >= 20
    assert live["null_probability"] == pytest.approx(0.05) and live["rejected"] is True
    (first, *_) = abort["confirmation"]["tests"]
    assert first["scope"] == "api:payments" and first["count"] == first["n"] > 0 and first["rejected"] is True
    assert elapsed < 60


def test_failures_within_the_limit_never_abort_though_windows_look_worse_than_it(influxd, tmp_path):
    """Payments failing 3 % of requests against their 95 % limit. A 4 s window of about 50 payments
    holds 3 or more failures (≤ 94 %) at one look in five: judged on its value, the run was aborted
    at one of its looks (2 of 2 runs of the code before issue 16). As a test, 3 failures in 50 are
    what 95 % expects."""
    fresh_db(influxd, "t_abort_within")
    (tmp_path / "abort.yaml").write_text(FAST)
    proc, _ = harness_run(
        influxd,
        "t_abort_within",
        tmp_path,
        tmp_path / "abort.yaml",
        "--run-time",
        "15s",
        "--fault",
        "payments:error_rate=0.03",
    )
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["abort"] is None, verdict["reasons"]
    assert not any(r.startswith("aborted") for r in verdict["reasons"])
    # Not asserted: the exit code. The whole run's limits are judged on its values, and ~60 requests
    # of an endpoint at 3 % failing fall under 95 % now and then; that is not the live checks' call.
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    window = verdict["window"]
    assert seconds(window["end"]) - seconds(window["start"]) + window["warmup_s"] >= 14
    log = (tmp_path / "locust.log").read_text()
    assert "alpha 0.01 over 9 looks" in log


def test_a_master_stops_on_its_workers_cpu_as_inconclusive(influxd, sandbox, locust_cluster, tmp_path):
    """Plain ``locust`` as a master and two workers: only the master judges, from what the workers
    stored. A load generator above max_cpu_percent (1 % here, so any busy Locust is) for the
    whole window stops the test; Locust exits 2 and the checker says INCONCLUSIVE, never FAIL."""
    client = fresh_db(influxd, "t_abort_cpu")
    thresholds = tmp_path / "cpu.yaml"
    thresholds.write_text(
        "warmup_s: 1\nmax_cpu_percent: 1\n"
        "abort: {after_s: 7, window_s: 4, every_s: 1, checks: [success_rate, cpu]}\n"
    )
    # 100 users: psutil counts CPU in 10 ms ticks, and 10 users a worker on a quiet machine spend
    # about one tick a second (1 %), so a window whose every sample is above 1 % was luck.
    locust_cluster.start(
        "-u",
        "100",
        "-r",
        "100",
        "-t",
        "60s",
        "--host",
        sandbox,
        "--influx-url",
        influxd.url,
        "--influx-db",
        "t_abort_cpu",
        "--run-id",
        "cpu",
        "--json-file",
        str(tmp_path / "stats"),
        "--stop-timeout",
        "5",
        "--abort-on-fail",
        "--thresholds-file",
        str(thresholds),
    )
    code = locust_cluster.wait()
    master_log, worker_logs = locust_cluster.master_log, locust_cluster.worker_logs
    assert code == 2, master_log[-3000:]
    assert master_log.count("live checks: aborted at t=") == 1, master_log[-3000:]
    assert "load generator's CPU stayed above 1 %" in master_log
    assert not any("live checks" in log for log in worker_logs)
    counted = sum(e["num_requests"] for e in json.loads((tmp_path / "stats.json").read_text()))
    assert stored_count(client, "cpu") == counted

    check = harness(
        "check",
        "--run-id",
        "cpu",
        "--influx-url",
        influxd.url,
        "--influx-db",
        "t_abort_cpu",
        "--thresholds-file",
        str(thresholds),
        "--out",
        str(tmp_path / "check"),
    )
    assert check.returncode == 2, check.stdout + check.stderr
    verdict = json.loads((tmp_path / "check" / "verdict.json").read_text())
    assert verdict["verdict"] == "inconclusive" and verdict["abort"]["kind"] == "inconclusive"
    assert verdict["abort"]["check"].startswith("worker:") and verdict["abort"]["confirmed"] is True
    assert (
        verdict["reasons"][0].startswith("aborted at t=")
        and "the load generator, not the target" in verdict["reasons"][0]
    )
    assert verdict["completeness"]["missing"] == 0 and verdict["completeness"]["workers"] == 2


def test_an_abort_the_stored_points_do_not_confirm_is_reported_as_such(influx_db, influxd, tmp_path):
    """The live check saw a bad window; the rest of the run is healthy (a synthetic run, written
    directly): the verdict says so and does not fail."""
    t0 = time.time_ns() - 60 * 1_000_000_000
    tags = {
        "run_id": "unconfirmed",
        "test_env": "local",
        "worker": "w1",
        "api": "payments",
        "name": "/api/v1/payments",
        "method": "POST",
        "status": 201,
    }
    lines = [
        make_line(
            "request",
            {**tags, "result": "ok"},
            {"response_time": 5.0, "response_length": 10},
            t0 + i * 100_000_000,
        )
        for i in range(300)
    ]
    lines.append(
        make_line(
            "listener_stats",
            {"run_id": "unconfirmed", "test_env": "local", "worker": "w1"},
            {
                "seen": 300,
                "written": 300,
                "retried": 0,
                "dropped": 0,
                "pending": 0,
                "spooled": 0,
                "final": True,
            },
            t0,
        )
    )
    influx_db.create_database()
    influx_db.create_retention_policy("runs", "INF")
    influx_db.write(("\n".join(lines) + "\n").encode())
    breach = Breach("api:payments", "success_rate", 95.0, 40.0, 50, "api:payments: success rate 40 % < 95 %")
    record = AbortRecord(
        at_s=20.0,
        time_ns=t0 + 20_000_000_000,
        kind="fail",
        start_ns=t0 + 14_000_000_000,
        end_ns=t0 + 18_000_000_000,
        breaches=(breach,),
    )
    influx_db.write((event_line("unconfirmed", "local", record) + "\n").encode(), retention_policy="runs")
    (tmp_path / "t.yaml").write_text("generation: {target_per_s: 0}\n")
    proc = harness(
        "check",
        "--run-id",
        "unconfirmed",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--thresholds-file",
        str(tmp_path / "t.yaml"),
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["verdict"] == "inconclusive" and verdict["abort"]["confirmed"] is False
    # Confirmed (or not) on the data that did not trigger it: the judged run (t=5–29.9 s, 250
    # requests) minus the window's 41.
    assert verdict["reasons"] == [
        "aborted at t=20s: api:payments: success rate 40 % < 95 % over the 4 s window t=14–18 s as the live check "
        "saw it, but it is not confirmed on the 209 requests of the judged run outside that window: 0 of 209 "
        "failed, p = 1 > 0.01: the abort is not confirmed; over the whole judged run: api:payments: success rate "
        "100 % ≥ 95 %"
    ]
    (test,) = verdict["abort"]["confirmation"]["tests"]
    assert (test["n"], test["count"], test["rejected"]) == (209, 0, False)


def test_in_the_web_ui_an_abort_stops_the_test_and_the_ui_stays_for_the_next(influxd, influx_db, tmp_path):
    thresholds = tmp_path / "ui.yaml"
    thresholds.write_text("warmup_s: 0\nmin_samples: 5\nabort: {after_s: 0, window_s: 3, every_s: 1}\n")
    sandbox, host = start_subprocess(port=0, faults=["payments:error_rate=0.5"])
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    locust = web_ui_locust(
        port,
        host,
        influxd,
        influx_db.settings.database,
        "--abort-on-fail",
        "--thresholds-file",
        str(thresholds),
    )
    try:
        wait_for(ui + "/")
        for _ in range(2):  # each test gets its own live checks
            started = requests.post(
                ui + "/swarm", data={"user_count": 20, "spawn_rate": 20, "host": host}, timeout=10
            )
            assert started.status_code == 200 and started.json()["success"], started.text
            wait_for_state(ui, ("spawning", "running"), "the test did not start")
            wait_for_state(ui, ("stopped",), "the live checks did not stop the test")
            assert locust.poll() is None  # the UI stays up
    finally:
        locust.terminate()
        _, log = locust.communicate(timeout=30)
        stop_subprocess(sandbox)
    assert log.count("live checks: aborted at t=") == 2, log[-3000:]
    aborts = influx_db.query('SELECT "check" FROM "runs"."events" WHERE "type" = \'abort\' GROUP BY "run_id"')
    assert len(aborts) == 2 and all("payments" in s["values"][0][1] for s in aborts), aborts


def wait_for_state(ui: str, states: tuple[str, ...], failure: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while requests.get(ui + "/stats/requests", timeout=5).json()["state"] not in states:
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def test_live_checks_stop_a_doomed_sketch_run_too(influxd, tmp_path):
    """--influx-points sketches: the live checks judge the workers' per-second sketches, and the
    checker confirms the abort on them."""
    client = fresh_db(influxd, "t_abort_sketches")
    (tmp_path / "abort.yaml").write_text(DOOMED)
    proc, elapsed = harness_run(
        influxd,
        "t_abort_sketches",
        tmp_path / "out",
        tmp_path / "abort.yaml",
        "--run-id",
        "doomed-sketches",
        "--run-time",
        f"{RUN_TIME_S}s",
        "--fault",
        "payments:error_rate=0.8",
        "--influx-points",
        "sketches",
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    abort = verdict["abort"]
    assert verdict["source"]["points"] == "sketches"
    assert abort["kind"] == "fail" and abort["confirmed"] is True and "payments" in abort["check"]
    assert elapsed < RUN_TIME_S, elapsed
    assert not client.query(
        'SELECT count("response_time") FROM "request" WHERE "run_id" = \'doomed-sketches\''
    )

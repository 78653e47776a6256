"""The arrival model end to end through ``harness run``: real Locust processes, real InfluxDB.

One run is shared by several checks (module-scoped), as a user would look at one run's data."""

from __future__ import annotations

import json

import pytest
import requests

from harness.sandbox.process import running_sandbox
from tests.arrival_checks import arrival_totals, event_ns, window_rates
from tests.helpers import harness

pytestmark = [pytest.mark.influx, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_process_run(influxd, tmp_path_factory):
    """``harness run --rate generation=10 --processes 2`` (the acceptance command, shortened)."""
    from harness.influx.client import InfluxClient, InfluxSettings

    db = "t_arrivals_two_processes"
    client = InfluxClient(InfluxSettings(url=influxd.url, database=db))
    client.query_results(f'DROP DATABASE "{db}"', method="POST", epoch="")
    out = tmp_path_factory.mktemp("arrivals")
    proc = harness(
        "run",
        "--rate",
        "generation=10",
        "--users",
        "40",
        "--processes",
        "2",
        "--run-time",
        "27s",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--run-id",
        "arrivals-2p",
        "--out",
        str(out),
    )
    return proc, client, out


def test_each_full_window_holds_the_rate_from_the_first_arrival(two_process_run):
    proc, client, _ = two_process_run
    assert proc.returncode == 0 and "verdict: PASS" in proc.stdout, proc.stdout + proc.stderr
    rates = window_rates(client, "arrivals-2p", "POST", "/api/v1/generations")
    assert len(rates) >= 2, rates
    assert all(9.5 <= rate <= 10.5 for rate in rates), rates


def test_both_workers_offer_exactly_half_from_the_first_second(two_process_run):
    _, client, _ = two_process_run
    first = event_ns(client, "arrivals-2p", "arrivals_start")
    per_worker = client.query(
        'SELECT "target_per_s", "scheduled" FROM "arrivals" WHERE "run_id" = \'arrivals-2p\' '
        'AND "api" = \'generation\' GROUP BY "worker"'
    )
    assert len(per_worker) == 2
    for series in per_worker:
        assert series["values"][0][0] - first < 1.5e9  # the first interval after the first arrival
        assert {row[1] for row in series["values"]} == {5.0}  # never the whole target, never nothing
    totals = arrival_totals(client, "arrivals-2p", "generation")
    assert totals["late"] == 0 and totals["dropped"] == 0
    assert totals["started"] == totals["scheduled"]
    stored = client.query(
        'SELECT count("response_time") FROM "request" WHERE "run_id" = \'arrivals-2p\' '
        "AND \"method\" = 'POST' AND \"name\" = '/api/v1/generations'"
    )[0]["values"][0][1]
    assert stored == totals["started"]  # one key request per started iteration


def test_iteration_requests_store_their_latency_from_the_scheduled_start(two_process_run):
    _, client, _ = two_process_run
    rows = client.query(
        'SELECT "response_time", "scheduled_response_time" FROM "request" '
        "WHERE \"run_id\" = 'arrivals-2p' AND \"api\" = 'generation'"
    )[0]["values"]
    assert len(rows) > 500
    assert all(row[2] is not None and row[2] >= row[1] for row in rows)  # never below the service time
    # the pool's sign-in requests belong to no iteration
    auth = client.query(
        'SELECT count("scheduled_response_time"), count("response_time") FROM "request" '
        "WHERE \"run_id\" = 'arrivals-2p' AND \"api\" = 'auth'"
    )[0]["values"][0]
    assert auth[2] == 80 and not auth[1]  # InfluxDB counts no value as null


def test_the_run_records_what_load_was_asked(two_process_run):
    proc, client, out = two_process_run
    assert "constant arrivals: generation 10/s, pool of 40 users" in proc.stdout
    run = client.query(
        'SELECT "load_model", "rates", "arrivals", "rate_profile", "spawn_rate" FROM "runs"."run" '
        "WHERE \"run_id\" = 'arrivals-2p'"
    )[0]["values"][0]
    assert run[1:] == ["arrival", "generation=10", "constant", "", 40]
    plan = client.query(
        'SELECT "load_model", "rates", "users" FROM "runs"."load_plan" WHERE "run_id" = \'arrivals-2p\''
    )[0]["values"][0]
    assert plan[1:] == ["arrival", "generation=10", 40]
    users = client.query(
        'SELECT max("pool_busy"), max("loop_lag_ms"), count("loop_lag_ms") FROM "users" '
        'WHERE "run_id" = \'arrivals-2p\' GROUP BY "worker"'
    )
    assert len(users) == 2 and all(s["values"][0][1] >= 1 and s["values"][0][3] >= 20 for s in users)
    assert json.loads((out / "locust_stats.json").read_text())  # Locust's own files as in the users model


def test_a_stall_is_timed_for_every_arrival_it_held(influxd, influx_db, tmp_path):
    """Analytic check: an arrival scheduled at t inside a stall [T, T+S) cannot complete before
    T+S, so its latency from the scheduled start is at least T+S−t — for every stored one."""
    stall_at, stall_s = 8.0, 3.0
    with running_sandbox(faults=[f"all:stall_at_s={stall_at:g},stall_s={stall_s:g}"]) as url:
        proc = harness(
            "run",
            "--rate",
            "payments=40",
            "--users",
            "10",
            "--run-time",
            "20s",
            "--target-host",
            url,
            "--influx-url",
            influxd.url,
            "--influx-db",
            influx_db.settings.database,
            "--run-id",
            "stalled",
            "--out",
            str(tmp_path),
        )
        first = requests.get(f"{url}/_sandbox/faults", timeout=5).json()["first_request_at"]
    assert proc.returncode == 1 and "api:payments" in proc.stdout, proc.stdout + proc.stderr
    begin, end = first + stall_at, first + stall_at + stall_s
    assert event_ns(influx_db, "stalled", "arrivals_start") < begin * 1e9  # the stall fell inside the run
    rows = influx_db.query(
        'SELECT "response_time", "scheduled_response_time" FROM "request" '
        "WHERE \"run_id\" = 'stalled' AND \"method\" = 'POST' AND \"name\" = '/api/v1/payments'",
        epoch="u",
    )[0]["values"]
    held = 0
    for started_us, service_ms, scheduled_ms in rows:
        scheduled_start = started_us / 1e6 - (scheduled_ms - service_ms) / 1000  # start minus lateness
        if begin <= scheduled_start < end:
            held += 1
            assert scheduled_ms >= (end - scheduled_start) * 1000 - 1, (scheduled_start, scheduled_ms)
    assert held >= 0.9 * 40 * stall_s  # every arrival of the stall was stored, none dropped
    totals = arrival_totals(influx_db, "stalled", "payments")
    assert totals["late"] >= 0.7 * 40 * stall_s and totals["dropped"] == 0
    assert totals["max_lag_ms"] >= 2000
    p99 = influx_db.query(
        'SELECT percentile("scheduled_response_time", 99), percentile("response_time", 99) '
        'FROM "request" WHERE "run_id" = \'stalled\' AND "name" = \'/api/v1/payments\' '
        "AND \"method\" = 'POST'"
    )[0]["values"][0]
    assert p99[1] >= 1000 and p99[2] < p99[1]  # the service time alone hides most of the stall

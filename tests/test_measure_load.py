"""The arrival model's query layer against a real InfluxDB, on points written here by hand, so each
number has a known answer: which per-second points fall in which window, the key requests counted
beside them, the slow answers holding users across a window's edge, the load generator's state per
window, and latency from the scheduled start equal to InfluxDB's own PERCENTILE."""

from __future__ import annotations

import time

import pytest

from harness.influx.lineprotocol import make_line
from harness.rundata import event_line
from harness.verdict.evaluate import evaluate
from harness.verdict.measure import measure
from harness.verdict.thresholds import Thresholds

RUN = "measure-load.1"
S = 1_000_000_000
T0 = (time.time_ns() // S - 600) * S  # the pool's first sign-in (the run's first request), inside any retention
EPOCH = T0 + 2 * S  # the first arrival: seconds are counted from here, each point at its second's end
STALL_START = EPOCH + 13 * S + 900_000_000  # a 3 s answer, started in window 1, still open in window 2


def _points() -> list[str]:
    lines = []
    tags = {"run_id": RUN, "test_env": "test"}
    for worker in ("w1", "w2"):
        lines.append(make_line("listener_stats", {**tags, "worker": worker}, {"seen": 0, "dropped": 0, "spooled": 0},
                               T0))
    # The pool signs in before the first arrival: not judged.
    lines.append(make_line("request", {**tags, "api": "auth", "name": "/api/v1/auth/login", "method": "POST",
                                       "result": "ok", "status": "200", "worker": "w1"},
                           {"response_time": 900.0, "response_length": 10}, T0))
    for second in range(1, 31):  # points for the seconds ending at EPOCH + 1 s … EPOCH + 30 s
        end = EPOCH + second * S
        for worker in ("w1", "w2"):
            started, late = 20, 0
            if worker == "w1" and second == 5:
                started = 99  # the second ending at the judged start: still warm-up
            if worker == "w1" and second == 15:
                started = 21  # the last second of the first window
            if second in (16, 17):
                started, late = 10, 10
            lines.append(make_line("arrivals", {**tags, "worker": worker, "api": "payments"},
                                   {"target_per_s": 20.0, "scheduled": 20, "started": started, "late": late,
                                    "dropped": 0, "max_lag_ms": 400.0 if late else 1.5}, end + 3))
            lines.append(make_line("users", {**tags, "worker": worker},
                                   {"users": 5, "cpu_percent": 97.0 if second == 20 else 30.0,
                                    "loop_lag_ms": 250.0 if second == 21 else 1.0, "pool_busy": 2},
                                   end - 400_000_000))
    # Key requests: 4 per second from EPOCH + 0.1 s on, 5 ms service time, 5 ms + i ms from scheduled start.
    for i in range(120):
        start = EPOCH + 100_000_000 + i * 250_000_000
        lines.append(make_line("request", {**tags, "api": "payments", "name": "/api/v1/payments", "method": "POST",
                                           "result": "ok", "status": "201", "worker": "w1"},
                               {"response_time": 5.0, "scheduled_response_time": 5.0 + i, "response_length": 10},
                               start))
    lines.append(make_line("request", {**tags, "api": "payments", "name": "/api/v1/payments", "method": "GET",
                                       "result": "ok", "status": "200", "worker": "w2"},
                           {"response_time": 3000.0, "scheduled_response_time": 3400.0, "response_length": 10},
                           STALL_START))
    return lines


@pytest.fixture(scope="module")
def measured(influxd):
    from harness.influx.client import InfluxClient, InfluxSettings

    client = InfluxClient(InfluxSettings(url=influxd.url, database="t_measure_load"))
    client.query_results('DROP DATABASE "t_measure_load"', method="POST", epoch="")
    client.create_database()
    client.create_retention_policy("runs", "INF")
    client.write(("\n".join(_points()) + "\n").encode())
    client.write((event_line(RUN, "test", "stopping", "Stopping", "", EPOCH + 30 * S + 200_000_000) + "\n").encode(),
                 retention_policy="runs")
    return client, measure(client, RUN, warmup_s=5, window_s=10)


@pytest.mark.influx
def test_a_run_with_arrivals_is_judged_from_its_first_arrival(measured):
    _, m = measured
    assert m.load_model == "arrival"
    assert int(m.start.timestamp() * 1e9) == EPOCH + 5 * S  # not the pool's sign-in + 5 s
    assert "POST /api/v1/auth/login" not in m.endpoints


@pytest.mark.influx
def test_full_windows_hold_the_points_of_their_own_seconds(measured):
    _, m = measured
    load = m.load["payments"]
    # Windows up to the stop (30.2 s after the first arrival): [5, 15) and [15, 25); [25, 35) is not full.
    assert [(w.start_s, w.end_s) for w in load.windows] == [(7.0, 17.0), (17.0, 27.0)]
    first, second = load.windows
    assert (first.target_per_s, first.scheduled, first.started, first.late) == (40.0, 400, 401, 0)
    assert (second.started, second.late, second.max_lag_ms) == (360, 40, 400.0)
    assert (load.scheduled, load.started, load.late, load.target_per_s) == (800, 761, 40, 40.0)
    assert load.defining == "POST /api/v1/payments"


@pytest.mark.influx
def test_key_requests_are_counted_beside_the_arrivals(measured):
    _, m = measured
    # 4 key requests a second from the first arrival: 40 per 10 s window.
    assert [w.requests for w in m.load["payments"].windows] == [40, 40]


@pytest.mark.influx
def test_a_slow_answer_holds_users_in_every_window_it_is_open_in(measured):
    _, m = measured
    assert [w.slowest_in_flight_ms for w in m.load["payments"].windows] == [3000.0, 3000.0]


@pytest.mark.influx
def test_the_load_generators_state_per_window(measured):
    _, m = measured
    windows = m.load["payments"].windows
    assert [w.cpu_max_percent for w in windows] == [30.0, 97.0]
    assert [w.loop_lag_max_ms for w in windows] == [1.0, 250.0]
    assert [w.pool_users for w in windows] == [10, 10]


@pytest.mark.influx
def test_latency_from_the_scheduled_start_equals_influxdbs_percentile(measured):
    client, m = measured
    start, end = EPOCH + 5 * S, EPOCH + 100_000_000 + 119 * 250_000_000  # the judged window: to the last request
    for p, attribute in ((50, "p50"), (95, "p95"), (99, "p99")):
        (series,) = client.query(f'SELECT percentile("scheduled_response_time", {p}) FROM "request" '
                                 f"WHERE \"run_id\" = '{RUN}' AND \"method\" = 'POST' AND time >= {start} "
                                 f"AND time <= {end}")
        assert getattr(m.scheduled["POST /api/v1/payments"], attribute) == series["values"][0][1]
    assert m.scheduled["GET /api/v1/payments"].max == 3400.0
    assert m.scheduled_apis["payments"].max == 3400.0
    assert m.endpoints["POST /api/v1/payments"].p95 == 5.0  # service time, beside it


@pytest.mark.influx
def test_the_verdict_of_these_points_names_the_saturated_load_generator(measured):
    _, m = measured
    verdict = evaluate(Thresholds(), m)
    assert verdict.verdict == "inconclusive"
    assert verdict.reasons[0].startswith("load generator: api:payments 36 arrivals/s < 38/s "
                                         "(target 40/s ± 5 %) in 17–27 s: its CPU reached 97 %")

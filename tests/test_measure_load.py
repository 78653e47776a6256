"""The arrival model's query layer against a real InfluxDB, on points written by hand
(tests/arrival_points.py), so each number has a known answer: which per-second points fall in
which window, the key requests counted beside them, the slow answers holding users across a
window's edge, the load generator's state per window, and latency from the scheduled start equal
to InfluxDB's own PERCENTILE."""

from __future__ import annotations

import pytest

from harness.verdict.decide.evaluate import evaluate
from harness.verdict.reads.measure import measure
from harness.verdict.rules.thresholds import Thresholds
from tests.arrival_points import EPOCH, PHASES, RUN, S, write_run


@pytest.fixture(scope="module")
def measured(influxd):
    from harness.influx.client import InfluxClient, InfluxSettings

    client = InfluxClient(InfluxSettings(url=influxd.url, database="t_measure_load"))
    client.query_results('DROP DATABASE "t_measure_load"', method="POST", epoch="")
    client.create_database()
    client.create_retention_policy("runs", "INF")
    write_run(client)
    return client, measure(client, RUN, warmup_s=5, window_s=10)


@pytest.mark.influx
def test_a_run_with_arrivals_is_judged_from_its_first_arrival(measured):
    _, m = measured
    assert m.load_model == "arrival"
    # Not the pool's sign-in + 5 s; on a whole microsecond, as InfluxDB's time buckets are.
    assert m.start.timestamp() == pytest.approx((EPOCH + 5 * S) / 1e9, abs=1e-6)
    assert "POST /api/v1/auth/login" not in m.endpoints


@pytest.mark.influx
def test_windows_count_the_stored_key_requests_against_the_plans_rate(measured):
    _, m = measured
    load = m.load["payments"]
    # Windows up to the stop request (30.2 s after the first arrival): [5, 15) and [15, 25) after the
    # first arrival, 2 s after the pool's sign-in; [25, 35) is not full.
    assert [(w.start_s, w.end_s) for w in load.windows] == [(7.123, 17.123), (17.123, 27.123)]
    assert [w.target_per_s for w in load.windows] == pytest.approx([40.0, 40.0])  # payments=40 from the plan
    assert [w.requests for w in load.windows] == [400, 360]  # the stall's seconds started 20 fewer, twice
    assert [w.achieved_per_s for w in load.windows] == [40.0, 36.0]
    assert (load.defining, load.poisson) == (
        "POST /api/v1/payments",
        False,
    ) and load.target_per_s == pytest.approx(40)


@pytest.mark.influx
def test_each_arrivals_point_is_in_the_window_holding_most_of_its_second(measured):
    _, m = measured
    first, second = m.load["payments"].windows
    # w1's 15th second ends 15.32 s after the first arrival (mostly in window 1), w2's at 15.71 s (window 2).
    assert (first.late, second.late) == (1, 2 + 40)
    assert (first.started, second.started) == (400, 360)
    assert (first.scheduled, second.scheduled, second.max_lag_ms) == (400, 400, 400.0)


@pytest.mark.influx
def test_the_load_generators_count_agrees_with_the_stored_key_requests(measured):
    _, m = measured
    verdict = evaluate(Thresholds(), m)
    (check,) = [c for c in verdict.checks if c.metric == "arrival_counts"]
    assert check.passed is True and check.observed == 0


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
    start = EPOCH + 5 * S
    end = EPOCH + 30 * S + PHASES["w2"] - S + (19 * S) // 20 + 1000  # the judged window: to the last request
    for p, attribute in ((50, "p50"), (95, "p95"), (99, "p99")):
        (series,) = client.query(
            f'SELECT percentile("scheduled_response_time", {p}) FROM "request" '
            f"WHERE \"run_id\" = '{RUN}' AND \"method\" = 'POST' AND time >= {start} "
            f"AND time <= {end}"
        )
        assert getattr(m.scheduled["POST /api/v1/payments"], attribute) == series["values"][0][1]
    assert m.scheduled["GET /api/v1/payments"].max == 3400.0
    assert m.scheduled_apis["payments"].max == 3400.0
    assert m.endpoints["POST /api/v1/payments"].p95 == 5.0  # service time, beside it
    assert m.scheduled["POST /api/v1/payments"].max == 24.0


@pytest.mark.influx
def test_the_verdict_of_these_points_names_the_saturated_load_generator(measured):
    _, m = measured
    verdict = evaluate(Thresholds(), m)
    assert verdict.verdict == "inconclusive"
    assert verdict.reasons[0].startswith(
        "load generator: api:payments 36 arrivals/s < 38/s "
        "(target 40/s ± 5 %) in 17.12–27.12 s: its CPU reached 97 %"
    )

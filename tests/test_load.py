"""The verdict's first two questions in the arrival model, table-driven on hand-built windows:
was the load as asked (both directions), and if not, whose limit was hit. Then the third:
latency limits judge the time from the scheduled start unless the thresholds say otherwise."""

from __future__ import annotations

import pytest

from harness.exitcodes import ExitCode
from harness.verdict.decide.evaluate import evaluate
from harness.verdict.model import Latency
from harness.verdict.rules.thresholds import Thresholds, parse_thresholds
from tests.measurements import arrival_run, checks_of, window


@pytest.mark.parametrize(
    "started, expected",
    [
        (400, "pass"),
        (380, "pass"),  # exactly 40/s − 5 %
        (420, "pass"),  # exactly 40/s + 5 %
        (379, "inconclusive"),  # short, nobody late, nothing at its limit: the load generator's
        (421, "inconclusive"),  # overshoot is never the target's doing
    ],
)
def test_the_rate_is_checked_in_both_directions(started, expected):
    verdict = evaluate(Thresholds(), arrival_run(window(5), window(15, started=started), window(25)))
    assert verdict.verdict == expected
    (check,) = [c for c in verdict.checks if c.metric == "arrival_rate"]
    assert (check.scope, check.passed) == (
        ("api:payments", True) if expected == "pass" else ("load generator", None)
    )


def test_a_passing_rate_says_the_range_it_held():
    verdict = evaluate(Thresholds(), arrival_run(window(5, started=398), window(15, started=405)))
    (check,) = checks_of(verdict, "api:payments", "arrival_rate")
    assert check.message == (
        "api:payments: 39.8–40.5 arrivals/s in every 10 s window, within target 40/s ± 5 %; "
        "803 of 800 asked over the whole judged run (40.15/s)"
    )


def test_overshoot_names_the_load_generator_in_one_line():
    verdict = evaluate(Thresholds(), arrival_run(window(5), window(15, started=460)))
    assert verdict.reasons == [
        "load generator: api:payments 46 arrivals/s > 42/s (target 40/s ± 5 %) "
        "in 15–25 s: it started more arrivals than asked"
    ]


def test_a_small_pool_on_a_fast_target_is_inconclusive_and_says_how_many_users():
    # 10 users all busy started 20/s: an iteration took 0.5 s, so 40/s needs 20 users, 25 with headroom.
    short = window(15, started=200, late=150, dropped=50, slowest_in_flight_ms=35.0)
    verdict = evaluate(Thresholds(), arrival_run(window(5), short))
    assert (verdict.verdict, verdict.exit_code) == ("inconclusive", ExitCode.ERROR)
    assert verdict.reasons == [
        "load generator: api:payments 20 arrivals/s < 38/s (target 40/s ± 5 %) in "
        "15–25 s: the pool of 10 users was too small while payments answered fast "
        "(up to 35 ms; 150 arrivals late, 50 dropped): raise --users to at least 25"
    ]


def test_users_held_by_slow_answers_are_the_targets_limit():
    stalled = window(15, started=300, late=110, dropped=100, slowest_in_flight_ms=2950.0)
    verdict = evaluate(Thresholds(), arrival_run(window(5), stalled))
    assert verdict.verdict == "fail"
    assert verdict.reasons[0] == (
        "api:payments: 30 arrivals/s < 38/s (target 40/s ± 5 %) in 15–25 s: the "
        "target held the load back: all 10 users waited on its answers (up to "
        "2950 ms, limit 300 ms; 110 arrivals late, 100 dropped)"
    )


def test_arrivals_late_beyond_the_tolerance_are_judged_even_when_the_rate_caught_up():
    # A stall inside one window: every arrival started, 110 of them late, as the users came free.
    stalled = window(15, late=110, slowest_in_flight_ms=2950.0, max_lag_ms=2950.0)
    verdict = evaluate(Thresholds(), arrival_run(window(5), stalled))
    assert verdict.verdict == "fail"
    assert verdict.reasons[0].startswith(
        "api:payments: 110 of 400 arrivals late or dropped (more than 5 %) "
        "in 15–25 s: the target held the load back"
    )
    fast = window(15, late=110, slowest_in_flight_ms=30.0)
    assert evaluate(Thresholds(), arrival_run(window(5), fast)).verdict == "inconclusive"


def test_a_window_above_the_band_only_by_late_arrivals_catching_up_is_not_an_overshoot():
    behind = window(5, started=360, late=40, slowest_in_flight_ms=3000.0)
    catching_up = window(15, started=440, late=40, slowest_in_flight_ms=3000.0)
    verdict = evaluate(Thresholds(), arrival_run(behind, catching_up))
    assert verdict.verdict == "fail"
    assert not [r for r in verdict.reasons if "more arrivals than asked" in r]


@pytest.mark.parametrize(
    "more, says",
    [
        (
            {"cpu_max_percent": 97.0},
            "its CPU reached 97 % (limit 90 %): add --processes (or workers) to offer this rate",
        ),
        (
            {"loop_lag_max_ms": 340.0},
            "its event loop lagged 340 ms (limit 100 ms): add --processes (or workers) to offer this rate",
        ),
    ],
)
def test_a_saturated_load_generator_is_named_before_a_slow_target(more, says):
    short = window(15, started=300, late=100, slowest_in_flight_ms=2950.0, **more)
    verdict = evaluate(Thresholds(), arrival_run(window(5), short))
    assert verdict.verdict == "inconclusive"
    assert (
        verdict.reasons[0] == f"load generator: api:payments 30 arrivals/s < 38/s (target 40/s ± 5 %) in "
        f"15–25 s: {says}"
    )


def test_when_windows_disagree_the_load_generator_is_named():
    slow_target = window(5, started=300, late=100, slowest_in_flight_ms=2950.0)
    saturated = window(15, started=300, cpu_max_percent=100.0)
    verdict = evaluate(Thresholds(), arrival_run(slow_target, saturated))
    assert verdict.verdict == "inconclusive"
    assert [c.scope for c in verdict.checks if c.metric == "arrival_rate"] == ["load generator"]


def test_no_full_window_cannot_verify_the_rate():
    verdict = evaluate(Thresholds(), arrival_run())
    assert verdict.verdict == "inconclusive"
    assert (
        "api:payments: no full 10 s window of arrivals after the warm-up: the arrival rate of 40/s "
        "cannot be verified" in verdict.reasons
    )


def test_the_tolerance_comes_from_the_thresholds():
    t = parse_thresholds({"load": {"tolerance": 0.1}})
    assert evaluate(t, arrival_run(window(5, started=365))).verdict == "pass"
    assert evaluate(Thresholds(), arrival_run(window(5, started=365))).verdict == "inconclusive"


def test_apis_without_a_rate_are_reported_absent_not_judged():
    verdict = evaluate(Thresholds(), arrival_run(window(5)))
    assert verdict.verdict == "pass"
    assert (
        "arrival model: no rate for api groups auth, generation: absent from this run, not judged"
        in verdict.warnings
    )
    assert not checks_of(verdict, metric="throughput")  # the users model's check does not apply


def test_latency_is_judged_from_the_scheduled_start_with_service_time_beside_it():
    scheduled = {"POST /api/v1/payments": Latency(p50=400.0, p95=1850.0, p99=2900.0, max=3010.0)}
    measured = arrival_run(
        window(5), scheduled=scheduled, scheduled_apis={"payments": Latency(400.0, 1850.0, 2900.0, 3010.0)}
    )
    verdict = evaluate(Thresholds(), measured)
    assert verdict.verdict == "fail"
    assert (
        "POST /api/v1/payments: p95 from scheduled start 1850 ms > 300 ms (service time 100 ms)"
        in verdict.reasons
    )
    assert "api:payments: p95 from scheduled start 1850 ms > 300 ms (service time 100 ms)" in verdict.reasons
    (p95,) = checks_of(verdict, "POST /api/v1/payments", "p95")
    assert (p95.observed, p95.threshold) == (1850.0, 300.0)
    # The switch in baselines.yaml: service time, as in the users model.
    service = evaluate(parse_thresholds({"load": {"latency": "service"}}), measured)
    assert service.verdict == "pass"
    assert (
        checks_of(service, "POST /api/v1/payments", "p95")[0].message
        == "POST /api/v1/payments: p95 100 ms ≤ 300 ms"
    )


def test_the_stored_key_requests_are_the_achieved_rate():
    # The load generator says 400 started; InfluxDB holds 370 key requests: the stored count decides.
    verdict = evaluate(Thresholds(), arrival_run(window(5, requests=370)))
    (check,) = [c for c in verdict.checks if c.metric == "arrival_rate"]
    assert (check.scope, check.observed) == ("load generator", 37.0)


@pytest.mark.parametrize(
    "started, requests, passed",
    [
        (400, 400, True),
        (400, 357, True),  # 1 % + one second of arrivals + 2: the half second at each end of the span
        (400, 355, None),
    ],
)
def test_the_load_generators_count_is_cross_checked_with_the_stored_key_requests(started, requests, passed):
    verdict = evaluate(Thresholds(), arrival_run(window(5, started=started, requests=requests, target=38.0)))
    (check,) = checks_of(verdict, "api:payments", "arrival_counts")
    assert check.passed is passed
    if passed is None:
        assert check.message == (
            "api:payments: the load generator counted 400 iterations started but InfluxDB "
            "holds 355 key requests (POST /api/v1/payments) in the judged windows: its "
            "arrival counts cannot be trusted"
        )


@pytest.mark.parametrize(
    "requests, expected", [(75, "pass"), (127, "pass"), (74, "inconclusive"), (128, "inconclusive")]
)
def test_poisson_arrivals_are_judged_on_exact_poisson_quantiles(requests, expected):
    # 10/s for 10 s asks 100 arrivals; with one window the run's 1 % is that window's: a Poisson(100)
    # count is below 75 or above 127 in under 1 % of windows (the upper side is the longer).
    w = window(5, target=10.0, started=requests, requests=requests)
    assert evaluate(Thresholds(), arrival_run(w, poisson=True)).verdict == expected
    assert evaluate(Thresholds(), arrival_run(w)).verdict == ("pass" if requests == 100 else "inconclusive")


def test_the_poisson_band_widens_with_the_windows_of_the_run():
    # An hour of 10 s windows: the 1 % is spread over 360 windows, so one window may hold 61–145.
    quiet = [window(5 + 10 * k, target=10.0, started=100, requests=100) for k in range(359)]
    for count, expected in ((61, "pass"), (145, "pass"), (60, "inconclusive"), (146, "inconclusive")):
        odd = window(5 + 10 * 359, target=10.0, started=count, requests=count)
        assert evaluate(Thresholds(), arrival_run(*quiet, odd, poisson=True)).verdict == expected, count


def test_a_shortfall_too_small_for_any_window_is_caught_over_the_whole_run():
    # 1/s for an hour, 10 % short in every window: 9 of the 10 arrivals asked, inside each
    # window's Poisson band (0–26 at this level), but 3,240 of 3,600 over the run, outside its
    # band (3,600 ± 7 %): the load generator fell short, the run says nothing of the target.
    windows = [window(5 + 10 * k, target=1.0, started=9, requests=9, scheduled=9) for k in range(360)]
    thresholds = parse_thresholds({"min_samples": 0})
    verdict = evaluate(thresholds, arrival_run(*windows, poisson=True))
    assert verdict.verdict == "inconclusive"
    (check,) = [c for c in verdict.checks if c.metric == "arrival_rate"]
    assert check.scope == "load generator" and check.observed == 0.9
    assert check.message.startswith(
        "load generator: api:payments over the whole judged run, 0.9 arrivals/s < 0.93"
    ), check.message
    assert "in 5–3605 s" in check.message
    # The same run at the rate asked passes; so does one at 10 % short over 10 minutes, which its
    # band (510–694 of 600) cannot tell from chance.
    fine = [
        window(5 + 10 * k, target=1.0, started=n, requests=n, scheduled=n) for k, n in enumerate([10] * 360)
    ]
    assert evaluate(thresholds, arrival_run(*fine, poisson=True)).verdict == "pass"
    assert evaluate(thresholds, arrival_run(*windows[:60], poisson=True)).verdict == "pass"


def test_at_half_an_arrival_a_second_the_skewed_upper_tail_is_the_rate_asked():
    # 0.5/s asks 5 arrivals a window: 12 is what a correct generator makes once in ~200 windows.
    w = window(5, target=0.5, started=12, requests=12, scheduled=12)
    thresholds = parse_thresholds({"min_samples": 0})
    assert evaluate(thresholds, arrival_run(w, poisson=True)).verdict == "pass"
    (check,) = checks_of(evaluate(thresholds, arrival_run(w, poisson=True)), "api:payments", "arrival_rate")
    assert check.message.endswith(
        "within target 0.5/s ± 5 %, or the exact Poisson band (1 % of runs over all windows)"
    )


def test_a_window_may_always_be_off_by_one_arrival():
    # A ramp asks 0.45/s in its first window: 4.5 arrivals; 4 or 5 both are the rate asked.
    ramp = [window(5, target=0.45, started=n, requests=n, scheduled=n) for n in (4, 5)]
    assert evaluate(parse_thresholds({"min_samples": 0}), arrival_run(*ramp)).verdict == "pass"


def test_overrides_of_endpoints_of_apis_without_a_rate_are_not_typos():
    t = parse_thresholds(
        {"endpoints": {"GET /health": {"max_p95_ms": 100}, "GET /api/v1/paymnts": {"max_p95_ms": 9}}}
    )
    verdict = evaluate(t, arrival_run(window(5)))
    assert verdict.verdict == "error"
    assert [r for r in verdict.reasons if "never called" in r] == [
        "baselines.yaml sets limits for endpoint 'GET /api/v1/paymnts' but the run never called it (did you mean "
        "'POST /api/v1/payments'?): fix the key or remove the override"
    ]


def test_poisson_band_quantiles_equal_scipy_stats_at_every_rate_and_level():
    """The band's quantiles come from scipy.special (scipy.stats costs half a second at every
    start); they must be scipy.stats.poisson's exact ppf and isf, rate by rate and level by level."""
    import numpy as np
    from scipy.stats import poisson

    from harness.verdict.decide.poisson_band import band

    for asked in [*np.geomspace(0.5, 1e6, 40), 1.0, 5.0, 10.0, 100.0]:
        for level in (1e-9, 1e-6, 1e-4, 0.01, 0.2):
            assert band(float(asked), level) == (
                float(poisson.ppf(level / 2, asked)),
                float(poisson.isf(level / 2, asked)),
            ), (asked, level)


def test_binomial_p_value_equals_scipy_stats_tail():
    from scipy.stats import binom

    from harness.verdict.decide.sequential import p_value

    for n in (1, 51, 300, 10_000):
        for p0 in (0.001, 0.01, 0.05):
            for count in range(min(n, 120) + 1):
                expected = 1.0 if count == 0 else float(binom.sf(count - 1, n, p0))
                assert abs(p_value(count, n, p0) - expected) <= 1e-9 * max(expected, 1e-300), (n, p0, count)

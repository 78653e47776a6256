"""The statistics under the baseline comparison: exact percentiles, per-window spreads, the decision
rule, and a simulated A/A check of the false-positive rate on dependent data."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from harness.verdict.decide.compare import compare, regression_limit
from harness.verdict.decide.estimate import percentiles, rank_index, spread, stats_of, windows_for
from harness.verdict.decide.evaluate import evaluate
from harness.verdict.decide.holm import holm_levels
from harness.verdict.decide.run_unit import baseline_of
from harness.verdict.model import (
    Baseline,
    BaselineInfo,
    BaselineRun,
    EndpointStats,
    Measurements,
    Samples,
    Spread,
)
from harness.verdict.outputs import write_outputs
from harness.verdict.rules.thresholds import Thresholds, parse_thresholds

KEY = "POST /api/v1/payments"
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
# The decision rule alone: as if healthy runs never varied from run to run.
NO_FLOOR = parse_thresholds({"regression": {"run_to_run_percent": 0}})


def influx_percentile(values: list[float], p: float) -> float | None:
    """InfluxDB 1.x's PERCENTILE, written out from its source (query/functions.go): sort, take
    index floor(n·p/100 + 0.5) − 1, none when that index is outside the values."""
    ordered = sorted(values)
    i = int(math.floor(len(ordered) * p / 100.0 + 0.5)) - 1
    return ordered[i] if 0 <= i < len(ordered) else None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), min_size=1, max_size=300))
def test_percentiles_are_influxdbs_nearest_rank(values):
    found = percentiles(np.array(values))
    for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert found[name] == influx_percentile(values, p)


def test_a_percentile_of_too_few_values_is_none_as_in_influxdb():
    assert rank_index(1, 1) is None and rank_index(1, 50) == 0 and rank_index(0, 50) is None
    assert percentiles(np.array([]))["p95"] is None


@pytest.mark.parametrize(
    "statistic, n, windows",
    [
        ("p50", 10_000, 10),
        ("p50", 30, 5),
        ("p50", 29, 0),  # 3 requests beyond the median per window
        ("p95", 300, 5),
        ("p95", 299, 0),
        ("p95", 600, 10),
        ("p99", 1500, 5),
        ("p99", 1499, 0),
        ("success_rate", 50, 5),
        ("success_rate", 49, 0),
        ("success_rate", 5000, 10),
    ],
)
def test_windows_hold_enough_requests_beyond_the_percentile(statistic, n, windows):
    assert windows_for(statistic, n, 10) == windows


def test_spread_is_the_standard_error_of_the_window_values():
    # Ten windows of 100 requests: window w holds values w*100 … w*100+99 and w failures.
    values = np.arange(1000, dtype=float)
    failed = np.zeros(1000, dtype=bool)
    for w in range(10):
        failed[w * 100 : w * 100 + w] = True
    found = spread(values, failed, 10)
    medians = [w * 100 + 49 for w in range(10)]  # nearest rank 50 of 100
    assert found["p50"] == Spread(pytest.approx(np.std(medians, ddof=1) / math.sqrt(10)), 10)
    rates = [100.0 - w for w in range(10)]
    assert found["success_rate"].se == pytest.approx(np.std(rates, ddof=1) / math.sqrt(10))
    assert "p99" not in found  # 1000 requests: 10 beyond p99, fewer than 3 per window in 5 windows


def scope(p95: float, se: float = 0.5, windows: int = 10, **more) -> EndpointStats:
    values: dict[str, Any] = dict(
        requests=2000,
        failures=0,
        success_rate=100.0,
        p50=p95 / 2,
        p95=p95,
        p99=p95 * 1.5,
        max=p95 * 3,
        rps=30.0,
        spread={s: Spread(se, windows) for s in ("p50", "p95", "p99", "success_rate")},
    )
    values.update(more)
    return EndpointStats(key=KEY, api="payments", **values)


def measured(endpoint: EndpointStats, run_id: str = "now") -> Measurements:
    return Measurements(
        run_id=run_id,
        test_env="t",
        start=T0,
        end=T0,
        duration_s=60.0,
        warmup_s=5.0,
        endpoints={KEY: endpoint},
    )


def decide(now: EndpointStats, then: EndpointStats, thresholds: Thresholds | None = None) -> dict:
    found = compare(thresholds or Thresholds(), measured(now), Baseline.of(measured(then, "base")))
    return {c.statistic: c for c in found}


@pytest.mark.parametrize(
    "now_p95, se, decision",
    [
        (3.4, 0.2, "no change"),
        (21.1, 0.5, "regressed"),  # the 3.4 → 21.1 ms: far beyond +2 ms
        (4.9, 0.1, "no change"),  # +1.5 ms ± 0.35: surely below the 2 ms minimum effect
        (5.2, 0.1, "inconclusive"),  # +1.8 ms ± 0.35: might or might not exceed it
        (5.9, 0.1, "regressed"),  # +2.5 ms ± 0.35: surely beyond it
        (3.4, 3.0, "inconclusive"),  # ± 3 ms × t: far wider than the minimum effect
        (1.0, 0.1, "improved"),
    ],
)
def test_decisions_on_a_fast_endpoint(now_p95, se, decision):
    result = decide(scope(now_p95, se=se), scope(3.4, se=se), NO_FLOOR)
    assert result["p95"].decision == decision, result["p95"].reason


def test_the_minimum_effect_is_the_larger_of_relative_and_absolute():
    t = Thresholds()
    assert regression_limit(t, "p95", 3.0) == pytest.approx(5.0)  # 2 ms > 10 % of 3 ms
    assert regression_limit(t, "p95", 500.0) == pytest.approx(550.0)  # 10 % of 500 ms > 2 ms
    assert regression_limit(t, "success_rate", 99.5) == pytest.approx(98.5)
    slow = decide(scope(530.0, se=1.0), scope(500.0, se=1.0), NO_FLOOR)[
        "p95"
    ]  # +30 ms = 6 %: not a regression
    assert slow.decision == "no change" and slow.limit == pytest.approx(550.0)


def test_interval_is_welchs_t_over_the_windows_at_its_holm_level():
    # Only p95 moves: it has the smallest p-value, so Holm tests it at 0.05 / 4 (four statistics with
    # an interval), as Bonferroni would.
    now, then = (
        scope(30.0, se=0.3, windows=10, p50=10.0, p99=40.0),
        scope(20.0, se=0.4, windows=8, p50=10.0, p99=40.0),
    )
    c = decide(now, then, NO_FLOOR)["p95"]
    alpha = 0.05 / 4
    se = math.hypot(0.3, 0.4)
    df = se**4 / (0.3**4 / 9 + 0.4**4 / 7)
    from scipy import stats as scipy_stats

    half = scipy_stats.t.ppf(1 - alpha, df) * se
    assert (c.low, c.high) == (pytest.approx(10 - half), pytest.approx(10 + half))
    assert c.confidence == pytest.approx(1 - 2 * alpha) and c.change_percent == pytest.approx(50.0)
    assert c.decision == "regressed" and c.p_value == pytest.approx(scipy_stats.t.sf((10 - 2) / se, df))


def test_holm_tests_the_smallest_p_value_first_and_stops_at_the_first_it_keeps():
    # Bonferroni over 4 would reject only p ≤ 0.0125; Holm also rejects 0.015 (≤ 0.05/3) and 0.02
    # (≤ 0.05/2), then keeps 0.3, and every level from there on is its 0.05.
    levels = holm_levels([0.02, 0.001, 0.3, 0.015], 0.05)
    assert levels == pytest.approx([0.025, 0.0125, 0.05, 0.05 / 3])
    assert holm_levels([0.04, 0.001, 0.3], 0.05) == pytest.approx([0.025, 0.05 / 3, 0.025])
    assert holm_levels([], 0.05) == []


def test_holm_counts_only_the_statistics_with_an_interval():
    # p99 and p95 have no spread (too few requests): only p50 and the success rate are tested, so a
    # p50 regression is tested at 0.05 / 2, not 0.05 / 4.
    few = {"p50": Spread(0.1, 10), "success_rate": Spread(0.1, 10)}
    c = decide(scope(20.0, spread=few, p50=8.0), scope(20.0, spread=few, p50=5.0), NO_FLOOR)
    assert c["p50"].decision == "regressed" and c["p50"].confidence == pytest.approx(1 - 2 * 0.05 / 2)
    assert c["p95"].decision == c["p99"].decision == "inconclusive" and c["p95"].p_value is None


def test_success_rate_regresses_downwards():
    now = scope(10.0, success_rate=95.0, spread={"success_rate": Spread(0.2, 10)})
    then = scope(10.0, success_rate=99.5, spread={"success_rate": Spread(0.2, 10)})
    c = decide(now, then)["success_rate"]
    assert c.decision == "regressed" and c.change == pytest.approx(-4.5) and c.limit == pytest.approx(98.5)
    assert decide(then, now)["success_rate"].decision == "improved"


def test_too_few_requests_for_an_interval_is_inconclusive_naming_the_need():
    c = decide(scope(20.0, spread={}, requests=120), scope(3.0))["p99"]
    assert c.decision == "inconclusive" and c.low is None
    assert "too few requests for an interval (120 in this run, 2000 in run base; 1500 needed)" in c.reason


# -- A/A on simulated dependent data ------------------------------------------------------------
def run_of(rng, n: int, phi: float, windows: int, shift_ms: float = 0.0) -> Measurements:
    """One run: lognormal latencies (median 20 ms) whose log follows an AR(1) with coefficient phi,
    so requests close in time are alike, and 2 % failures."""
    noise = rng.normal(size=n)
    x = np.empty(n)
    x[0] = noise[0]
    for i in range(1, n):
        x[i] = phi * x[i - 1] + math.sqrt(1 - phi**2) * noise[i]
    samples = Samples(
        np.arange(n, dtype=float),
        {"response_time": np.exp(math.log(20) + 0.5 * x) + shift_ms},
        rng.random(n) < 0.02,
    )
    return measured(EndpointStats(key=KEY, api="payments", **stats_of(samples, 60.0, windows)))


PAIRS = 200


def test_simulated_a_a_pairs_stay_within_the_false_positive_rate():
    # Zero minimum effect: only the interval protects against noise, the hardest case. With
    # strongly dependent requests (phi 0.8) a method that treated them as independent would call
    # far more than 5 % of these pairs regressed.
    exact = parse_thresholds(
        {"regression": {"min_effect_percent": 0, "min_effect_ms": 0, "max_success_rate_drop": 0}}
    )
    rng = np.random.default_rng(11)
    flagged = 0
    for _ in range(PAIRS):
        found = compare(exact, run_of(rng, 2000, 0.8, 10), Baseline.of(run_of(rng, 2000, 0.8, 10)))
        flagged += any(c.decision == "regressed" for c in found)
    # 5 % plus two standard errors of a share measured over PAIRS pairs.
    assert flagged / PAIRS <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / PAIRS), flagged


def test_simulated_shift_of_30_percent_of_the_p95_is_detected_against_last_5_pass():
    # Default minimum effect (10 %, 2 ms); 5,000 requests per run, dependent as above. Five baseline
    # runs measure their own run-to-run spread (here only sampling noise), so the interval is a
    # prediction interval with 4 degrees of freedom.
    rng = np.random.default_rng(12)
    detected = 0
    for _ in range(50):
        runs = [BaselineRun(f"b{i}", run_of(rng, 5000, 0.8, 10).endpoints) for i in range(5)]
        baseline = baseline_of(
            BaselineInfo("last-5-pass", tuple(r.run_id for r in runs), method="mean"), runs
        )
        shift = 0.3 * baseline.endpoints[KEY].p95
        found = {
            c.statistic: c
            for c in compare(Thresholds(), run_of(rng, 5000, 0.8, 10, shift_ms=shift), baseline)
        }
        detected += found["p95"].decision == "regressed"
        assert found["p95"].runs == 5 and found["p95"].run_to_run_percent is None
    assert detected >= 40, detected


def test_a_doubled_p95_is_detected_against_one_run():
    rng = np.random.default_rng(13)
    detected = 0
    for _ in range(50):
        base = run_of(rng, 5000, 0.8, 10)
        now = run_of(rng, 5000, 0.8, 10, shift_ms=base.endpoints[KEY].p95)
        found = {c.statistic: c for c in compare(Thresholds(), now, Baseline.of(base))}
        detected += found["p95"].decision == "regressed"
    assert detected == 50, detected


# -- the run as the unit ---------------------------------------------------------------------------
def runs_baseline(p95s: list[float], se: float = 0.2) -> Baseline:
    runs = [BaselineRun(f"r{i}", {KEY: scope(v, se=se)}) for i, v in enumerate(p95s)]
    return baseline_of(
        BaselineInfo(f"last-{len(runs)}-pass", tuple(r.run_id for r in runs), method="mean"), runs
    )


def test_three_baseline_runs_give_a_prediction_interval_from_their_spread_and_this_runs_error():
    baseline = runs_baseline([20.0, 21.0, 22.5])
    c = compare(NO_FLOOR, measured(scope(30.0, se=0.3)), baseline)
    p95 = next(x for x in c if x.statistic == "p95")
    values = [20.0, 21.0, 22.5]
    s2 = np.var(values, ddof=1)
    between = s2 * (1 + 1 / 3)
    variance = between + 0.3**2
    df = variance**2 / (between**2 / 2 + 0.3**4 / 9)
    from scipy import stats as scipy_stats

    alpha = next(1 - x.confidence for x in c if x.statistic == "p95") / 2
    half = scipy_stats.t.ppf(1 - alpha, df) * math.sqrt(variance)
    assert p95.baseline == pytest.approx(np.mean(values)) and p95.runs == 3 and p95.run_to_run_percent is None
    assert (p95.low, p95.high) == (
        pytest.approx(30 - 21.1666667 - half),
        pytest.approx(30 - 21.1666667 + half),
    )
    assert "run-to-run spread of 3 baseline runs" in p95.reason
    # The same 30 ms against baseline runs that agree closely is a regression; against runs that
    # spread from 15 to 28 ms it cannot be told.
    assert (
        next(
            x
            for x in compare(Thresholds(), measured(scope(30.0, se=0.3)), runs_baseline([20.0, 20.2, 20.1]))
            if x.statistic == "p95"
        ).decision
        == "regressed"
    )
    assert (
        next(
            x
            for x in compare(Thresholds(), measured(scope(30.0, se=0.3)), runs_baseline([15.0, 28.0, 20.0]))
            if x.statistic == "p95"
        ).decision
        == "inconclusive"
    )


def test_one_baseline_run_assumes_the_run_to_run_floor():
    # 5 % of 20 ms on each side: sqrt(2) · 1 ms beside the windows' 0.2 ms.
    c = next(
        x
        for x in compare(
            Thresholds(), measured(scope(22.0, se=0.2)), Baseline.of(measured(scope(20.0, se=0.2)))
        )
        if x.statistic == "p95"
    )
    sd = math.sqrt(0.2**2 + 0.2**2 + 2 * (0.05 * 20.0) ** 2)
    assert c.run_to_run_percent == 5.0 and c.runs == 1
    from scipy import stats as scipy_stats

    z = scipy_stats.norm.ppf(1 - (1 - c.confidence) / 2)  # the floor is taken as known: nearly normal
    assert (c.high - c.low) / 2 == pytest.approx(z * sd, rel=0.01) and c.low < 0 < 2.0 < c.high
    wider = parse_thresholds({"regression": {"run_to_run_percent": 10}})
    w = next(
        x
        for x in compare(wider, measured(scope(22.0, se=0.2)), Baseline.of(measured(scope(20.0, se=0.2))))
        if x.statistic == "p95"
    )
    assert w.high - w.low > 1.8 * (c.high - c.low)


def test_constant_latencies_never_decide():
    # 3.0 ms against 5.5 ms of constant latency: every window gives the same value, so there is no
    # spread at all. A zero-width interval would call it regressed "at 99.5 %".
    flat = {s: Spread(0.0, 10) for s in ("p50", "p95", "p99", "success_rate")}
    now = scope(5.5, spread=flat, p50=5.5, p99=5.5)
    then = scope(3.0, spread=flat, p50=3.0, p99=3.0)
    for thresholds in (Thresholds(), NO_FLOOR):
        found = decide(now, then, thresholds)
        for statistic in ("p50", "p95", "p99"):
            assert found[statistic].decision == "inconclusive" and found[statistic].low is None
            assert "no spread in this run" in found[statistic].reason
    # The success rate's spread is never below the binomial one: 100 % vs 100 % is decided.
    assert found["success_rate"].decision == "no change"
    runs = runs_baseline([3.0, 3.0, 3.0])
    three = {c.statistic: c for c in compare(Thresholds(), measured(scope(5.5, se=0.1)), runs)}
    assert three["p95"].decision == "inconclusive" and "no run-to-run spread" in three["p95"].reason


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_infinite_and_nan_values_are_inconclusive_not_an_exception(bad, tmp_path):
    now = measured(scope(bad))
    verdict = evaluate(Thresholds(), now, Baseline.of(measured(scope(20.0), "base")))
    p95 = next(c for c in verdict.comparisons if c.statistic == "p95")
    assert (
        p95.decision == "inconclusive"
        and p95.reason == f"{KEY}: p95 is {bad} in this run, not a finite number: not compared"
    )
    paths = write_outputs(verdict, tmp_path, Thresholds())  # every output still renders
    assert "p95" in paths["summary_md"].read_text()
    spread_inf = scope(20.0, spread={"p95": Spread(math.inf, 10)})
    c = decide(spread_inf, scope(20.0))["p95"]
    assert c.decision == "inconclusive" and "not a finite number" in c.reason

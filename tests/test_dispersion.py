"""Bursts in the live abort, without I/O: the dispersion of per-second counts, the exact test on
effective counts, and the abort that a burst in a healthy run no longer makes (decide/dispersion.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import bdtrc

from harness.verdict.decide.abort import decide, unread_seconds
from harness.verdict.decide.dispersion import SPAN_WINDOWS, dispersion, span_start_ns
from harness.verdict.decide.sequential import exact_test, p_value
from harness.verdict.model import WindowFigures, seconds_key
from harness.verdict.rules.thresholds import parse_thresholds
from tests.measurements import ep, run

S = 1_000_000_000
PAYMENTS = "POST /api/v1/payments"


def independent_seconds(seed: int, seconds: int = 120, rate: int = 20, p: float = 0.03):
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate, seconds)
    return tuple(zip(n.tolist(), rng.binomial(n, p).tolist()))


def test_independent_failures_keep_the_exact_test():
    # 200 spans of 120 independent seconds: φ is 1 or a little above (its estimate is noisy),
    # never far from it.
    values = [dispersion(independent_seconds(seed)) for seed in range(200)]
    assert min(values) == 1.0 and float(np.median(values)) < 1.2 and max(values) < 2.0


def test_failures_in_bursts_are_counted_as_fewer_independent_ones():
    # 72 failures in 2,400 requests, all in 4 bursts of 3 seconds (the rest of the span healthy).
    seconds = [(20, 0)] * 120
    for start in (10, 40, 70, 100):
        for i in range(start, start + 3):
            seconds[i] = (20, 6)
    phi = dispersion(seconds)
    assert phi > 8, phi  # a burst of 18 failures is closer to one event than to 18


@pytest.mark.parametrize(
    "seconds",
    [(), ((20, 0),), ((20, 0), (20, 0)), ((20, 20), (20, 20)), ((0, 0), (0, 0))],
    ids=["none", "one second", "no failure", "all failed", "no request"],
)
def test_a_span_that_cannot_tell_gives_one(seconds):
    assert dispersion(seconds) == 1.0


def test_the_span_is_four_windows_from_the_end_of_the_warm_up():
    assert SPAN_WINDOWS == 4
    assert span_start_ns(200 * S, 230 * S, 5 * S) == 110 * S  # three window lengths before it
    assert span_start_ns(40 * S, 70 * S, 5 * S) == 5 * S  # never in the warm-up


def test_effective_counts_are_the_binomial_tail_of_the_shrunk_counts():
    assert p_value(40, 600, 0.05) == pytest.approx(float(bdtrc(39, 600, 0.05)), rel=1e-12)
    # φ = 2: 40 of 600 are tested as 20 of 300, exactly the binomial tail there.
    assert p_value(40, 600, 0.05, 2.0) == pytest.approx(float(bdtrc(19, 300, 0.05)), rel=1e-9)
    # Between whole numbers the tail is continuous and falls as the count grows.
    tails = [p_value(count, 600, 0.05, 3.0) for count in range(30, 90)]
    assert all(a > b for a, b in zip(tails, tails[1:]))
    test = exact_test(PAYMENTS, "success_rate", 95.0, 600, 40, 1e-4, dispersion=4.0)
    assert test is not None and test.dispersion == 4.0 and not test.rejected
    assert test.text() == (
        "40 of 600 failed (dispersion 4: tested as 10 of 150 independent requests), p = 0.22 > 0.0001"
    )
    assert test.as_dict()["test"] == "one-sided binomial, effective counts"
    assert exact_test(PAYMENTS, "success_rate", 95.0, 600, 40, 1e-4, dispersion=math.nan).dispersion == 1.0


def window(failures: int, requests: int = 600) -> WindowFigures:
    start = 200 * S
    return WindowFigures(
        start, start + 30 * S, run(ep(PAYMENTS, requests, success=100 * (1 - failures / requests))), {}
    )


def test_a_burst_in_a_healthy_run_no_longer_aborts_it_and_a_real_failure_still_does():
    thresholds = parse_thresholds({"abort": {"checks": ["success_rate"]}})
    checks = thresholds.abort.checks
    # 60 of 600 failed in the window (10 % against a 95 % limit): the plain exact test rejects.
    figures = window(60)
    record = decide(thresholds, checks, figures, 0, 232 * S, look=30, looks=300)
    assert record is not None
    # The live checks then read the per-second counts of the scopes it names, and decide again.
    assert set(unread_seconds(record, figures)) == {
        (PAYMENTS, None),
        ("api:payments", None),
    }
    span = [(20, 1)] * 90 + [(20, 0)] * 27 + [(20, 20)] * 3  # a burst: every request of 3 s failed
    bursty = WindowFigures(
        figures.start_ns,
        figures.end_ns,
        figures.measured,
        {},
        seconds={(PAYMENTS, None): tuple(span), ("api:payments", None): tuple(span)},
    )
    assert decide(thresholds, checks, bursty, 0, 232 * S, look=30, looks=300) is None
    # A real failure rate: 10 % of every second of the span, still aborted, tested exactly.
    spread = tuple([(20, 2)] * 120)
    steady = WindowFigures(
        figures.start_ns,
        figures.end_ns,
        figures.measured,
        {},
        seconds={(PAYMENTS, None): spread, ("api:payments", None): spread},
    )
    again = decide(thresholds, checks, steady, 0, 232 * S, look=30, looks=300)
    assert again is not None and again.kind == "fail"
    assert again.breaches[0].test is not None and again.breaches[0].test["dispersion"] == 1.0
    assert again.breaches[0].test["dispersion_seconds"] == 120
    assert unread_seconds(again, steady) == ()


def test_only_tested_breaches_need_per_second_counts():
    assert seconds_key(PAYMENTS, "success_rate", 95.0) == (PAYMENTS, None)
    assert seconds_key(PAYMENTS, "p95", 300) == (PAYMENTS, 300.0)
    thresholds = parse_thresholds({"abort": {"checks": ["max"]}, "apis": {"payments": {"max_ms": 100}}})
    figures = window(0)
    record = decide(thresholds, thresholds.abort.checks, figures, 0, 232 * S, look=30, looks=300)
    assert record is not None and unread_seconds(record, figures) == ()

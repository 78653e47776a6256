"""The live abort (``--abort-on-fail``) calibrated with its own decision, ``harness.verdict.decide.abort.decide``.

A run is simulated as its requests: Poisson arrivals at a rate, each failing (or slower than the
p95 limit) with a probability, independently or through an AR(1) latent (ρ 0.9 between
consecutive requests: failures and slow answers come in bursts). The live checks look at the
trailing window every ``every_s`` from their first whole window on (as LiveChecks does: its
``first_check_s`` and ``SETTLE_S``), with the run's number of looks from ``sequential.looks``.
At each look the window's counts become a WindowFigures of one endpoint and its API group and
``decide`` judges it with the default checks (success_rate, p95). A run counts as aborted at its
first look that ``decide`` aborts; some rows also count the runs whose abort the verdict's
``judge_abort`` confirms on the judged run's requests outside the window (the verdict FAIL).

When ``decide`` aborts at a look, the look is decided again as the live checks do
(``LiveChecks.check_once``): with the per-second counts of the window and the span before it
(``dispersion.span_start_ns``), so that failures in bursts are tested on effective counts.

Null scenarios (every limit holds): the rate is the false-positive rate, nominal ``abort.alpha``
(1 %), bursty (AR(1)) scenarios included. Effect scenarios: the rate is the power, within the time
stated; an ``onset_s`` scenario is healthy until then (an outage in the middle of a run).

For speed, ``decide`` is called only at looks where its exact test could reject at ten times the
largest share of alpha any test can get (``binom.isf``, vectorised over the looks): at every other
look its answer is "no abort" whatever else it checks, so the result is the same as calling it at
every look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
from scipy.signal import lfilter
from scipy.stats import binom, norm

from bench.calibration.table import Row
from harness.verdict.decide.abort import decide, judge_abort, unread_seconds
from harness.verdict.decide.dispersion import span_start_ns
from harness.verdict.decide.sequential import looks as count_looks
from harness.verdict.model import AbortRecord, EndpointStats, Measurements, Stats, WindowFigures
from harness.verdict.rules.thresholds import parse_thresholds

S = 1_000_000_000
SETTLE_S = 2.0  # harness/listener/live_checks.py (not imported: that module needs gevent's loop)
KEY, API = "POST /api/v1/payments", "payments"
LIMIT_P95_MS = 300.0  # payments' built-in limits: success rate ≥ 95 %, p95 ≤ 300 ms
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Scenario:
    kind: str  # "fp" or "power"
    text: str
    rate: float  # requests per second
    run_s: float
    metric: str  # success_rate or p95
    bad: float  # chance a request fails (success_rate) or is slower than the p95 limit
    limit: float  # success-rate limit in percent (success_rate scenarios)
    rho: float = 0.0  # AR(1) of the latent between consecutive requests
    after_s: float = 60.0
    window_s: float = 30.0
    every_s: float = 5.0
    by_s: float | None = None  # power: aborted by this time from the start
    onset_s: float | None = None  # the effect starts here (healthy before, at ``healthy``)
    healthy: float = 0.0  # the chance of a bad request before ``onset_s``
    confirm: bool = False  # also a row for runs aborted *and* confirmed (the verdict FAIL)


SCENARIOS = [
    Scenario(
        "fp",
        "auth 0.4 % failing vs 99 % limit, 1.7/s, 2 min, after 30 s, window 30 s (issue 16)",
        1.7,
        120,
        "success_rate",
        0.004,
        99.0,
        after_s=30,
        window_s=30,
    ),
    Scenario("fp", "99.5 % success vs 99 % limit, 2/s, 30 min", 2, 1800, "success_rate", 0.005, 99.0),
    Scenario("fp", "99.5 % success vs 99 % limit, 20/s, 30 min", 20, 1800, "success_rate", 0.005, 99.0),
    Scenario("fp", "97 % success vs 95 % limit, 20/s, 30 min", 20, 1800, "success_rate", 0.03, 95.0),
    Scenario("fp", "success exactly at its 99 % limit, 5/s, 1 h", 5, 3600, "success_rate", 0.01, 99.0),
    Scenario("fp", "success exactly at its 95 % limit, 0.5/s, 10 min", 0.5, 600, "success_rate", 0.05, 95.0),
    Scenario("fp", "success exactly at its 95 % limit, 100/s, 10 min", 100, 600, "success_rate", 0.05, 95.0),
    Scenario(
        "fp",
        "success 97 % vs 95 % limit, AR(1) ρ 0.9, 20/s, 30 min",
        20,
        1800,
        "success_rate",
        0.03,
        95.0,
        rho=0.9,
        confirm=True,
    ),
    Scenario(
        "fp",
        "success 97 % vs 95 % limit, AR(1) ρ 0.9, 2/s, 30 min",
        2,
        1800,
        "success_rate",
        0.03,
        95.0,
        rho=0.9,
    ),
    Scenario(
        "fp",
        "success exactly at its 95 % limit, AR(1) ρ 0.9, 20/s, 30 min",
        20,
        1800,
        "success_rate",
        0.05,
        95.0,
        rho=0.9,
    ),
    Scenario("fp", "p95 exactly at its limit, 10/s, 1 h", 10, 3600, "p95", 0.05, 95.0),
    Scenario(
        "fp",
        "p95 at 97 % of requests under the limit, AR(1) ρ 0.9, 10/s, 1 h",
        10,
        3600,
        "p95",
        0.03,
        95.0,
        rho=0.9,
        confirm=True,
    ),
    Scenario(
        "power",
        "payments error_rate 0.5 vs 95 %, 3/s, after 30 s, window 20 s: aborted by t=90 s",
        3,
        300,
        "success_rate",
        0.5,
        95.0,
        after_s=30,
        window_s=20,
        by_s=90,
        confirm=True,
    ),
    Scenario(
        "power",
        "p95 at a real slowdown (30 % of requests over the limit), 5/s: aborted by t=90 s",
        5,
        300,
        "p95",
        0.30,
        95.0,
        after_s=30,
        window_s=20,
        by_s=90,
    ),
    Scenario(
        "power", "success 97 % vs 99 % limit, 20/s, 30 min: aborted", 20, 1800, "success_rate", 0.03, 99.0
    ),
    Scenario(
        "power",
        "an outage from t=300 s: 0.5 % → 10 % failing vs 95 %, 20/s: aborted within 60 s of it",
        20,
        900,
        "success_rate",
        0.10,
        95.0,
        by_s=360,
        onset_s=300,
        healthy=0.005,
    ),
    Scenario(
        "power",
        "an outage from t=300 s: 0.5 % → 10 % failing vs 95 %, 20/s: aborted within 180 s of it",
        20,
        900,
        "success_rate",
        0.10,
        95.0,
        by_s=480,
        onset_s=300,
        healthy=0.005,
    ),
    Scenario(
        "power",
        "an outage from t=300 s: 1 % → 50 % failing vs 95 %, 20/s: aborted within 60 s of it",
        20,
        900,
        "success_rate",
        0.50,
        95.0,
        by_s=360,
        onset_s=300,
        healthy=0.01,
    ),
    Scenario(
        "power",
        "an outage from t=300 s: 1 % → 50 % failing vs 95 %, 20/s: aborted within 180 s of it",
        20,
        900,
        "success_rate",
        0.50,
        95.0,
        by_s=480,
        onset_s=300,
        healthy=0.01,
    ),
    Scenario(
        "power",
        "an outage from t=300 s: 1 % → 50 % failing vs 95 %, AR(1) ρ 0.9, 20/s: aborted within 180 s of it",
        20,
        900,
        "success_rate",
        0.50,
        95.0,
        rho=0.9,
        by_s=480,
        onset_s=300,
        healthy=0.01,
    ),
    Scenario(
        "power",
        "an outage from t=300 s: 1 % → 50 % failing vs 95 %, AR(1) ρ 0.9, 20/s: aborted within 60 s of it",
        20,
        900,
        "success_rate",
        0.50,
        95.0,
        rho=0.9,
        by_s=360,
        onset_s=300,
        healthy=0.01,
    ),
]
QUICK = (0, 2, 4, 6, 7, 10, 12, 13, 16)  # the scenarios --quick runs


def rows(quick: bool, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    out = []
    for i, scenario in enumerate(SCENARIOS):
        if quick and i not in QUICK:
            continue
        reps = (100 if scenario.kind == "fp" else 50) if quick else (400 if scenario.kind == "fp" else 200)
        thresholds = parse_thresholds(
            {
                "abort": {
                    "after_s": scenario.after_s,
                    "window_s": scenario.window_s,
                    "every_s": scenario.every_s,
                },
                "apis": {API: {"min_success_rate": scenario.limit}},
            }
        )
        runs = [_run(rng, scenario, thresholds) for _ in range(reps)]
        decision = "abort: success rate" if scenario.metric == "success_rate" else "abort: p95"
        nominal = thresholds.abort.alpha if scenario.kind == "fp" else None
        out.append(Row(decision, scenario.text, scenario.kind, sum(a for a, _ in runs), reps, nominal))
        if scenario.confirm:
            out.append(
                Row(
                    decision,
                    f"{scenario.text}: aborted and confirmed on the rest of the run (FAIL)",
                    scenario.kind,
                    sum(c for _, c in runs),
                    reps,
                    nominal,
                )
            )
    return out


def _bad_flags(rng: np.random.Generator, n: int, p: float, rho: float) -> np.ndarray:
    """Which requests fail (or are slow): each with probability p, through an AR(1) latent with
    unit variance when rho > 0, so the marginal chance is p whatever rho."""
    if rho <= 0:
        return rng.random(n) < p
    latent = lfilter([math.sqrt(1 - rho * rho)], [1, -rho], rng.standard_normal(n))
    return latent > norm.isf(p)


def _run(rng: np.random.Generator, s: Scenario, thresholds) -> tuple[bool, bool]:
    """(aborted, aborted and confirmed): the live decision at every look, then, for an aborted run,
    the verdict's ``judge_abort`` on the run as stored when it stopped (from the warm-up to the
    abort)."""
    rule = thresholds.abort
    n_all = rng.poisson(s.rate * s.run_s)
    times = np.sort(rng.uniform(0, s.run_s, n_all))  # Poisson arrivals: uniform given their count
    flags = _bad_flags(rng, n_all, s.bad, s.rho)
    if s.onset_s is not None:
        flags = np.where(times >= s.onset_s, flags, _bad_flags(rng, n_all, s.healthy, s.rho))
    bad = np.concatenate([[0], np.cumsum(flags)])
    first_s = max(rule.after_s, thresholds.warmup_s + SETTLE_S + rule.window_s)  # LiveChecks.first_check_s
    total = count_looks(s.run_s, first_s, rule.every_s)
    at = first_s + rule.every_s * np.arange(total)
    if s.by_s is not None:
        at = at[at <= s.by_s]
    end = np.searchsorted(times, at - SETTLE_S, side="right")
    start = np.searchsorted(times, at - SETTLE_S - rule.window_s, side="left")
    n, k = end - start, bad[end] - bad[start]
    p0 = 1 - s.limit / 100 if s.metric == "success_rate" else 0.05
    loose = np.minimum(1.0, 10 * rule.alpha / total)
    could = (n >= thresholds.min_samples) & (k >= binom.isf(loose, np.maximum(n, 1), p0) + 1)
    for look in np.flatnonzero(could):
        figures = _figures(int(n[look]), int(k[look]), s, at[look], s.window_s)

        def decided(figures: WindowFigures, look: int = int(look)) -> AbortRecord | None:
            return decide(thresholds, rule.checks, figures, 0, int(at[look] * S), look=look + 1, looks=total)

        record = decided(figures)
        missing = unread_seconds(record, figures)
        if missing:  # as the live checks do: again with the per-second counts (bursts)
            first_ns = span_start_ns(figures.start_ns, figures.end_ns, int(thresholds.warmup_s * S))
            counts = _per_second(times, bad, first_ns / S, figures.end_ns / S)
            figures = replace(figures, seconds=dict.fromkeys(missing, counts))
            record = decided(figures)
        if record is None:
            continue
        first, last = (
            np.searchsorted(times, thresholds.warmup_s, side="left"),
            np.searchsorted(times, at[look]),
        )
        judged = _figures(
            int(last - first),
            int(bad[last] - bad[first]),
            s,
            at[look] + SETTLE_S,
            at[look] - thresholds.warmup_s,
        )
        measured = replace(judged.measured, abort=replace(record, exact=figures, judged=judged))
        outcome = judge_abort(thresholds, measured, [])
        return True, bool(outcome is not None and outcome.confirmed)
    return False, False


def _per_second(
    times: np.ndarray, bad: np.ndarray, start_s: float, end_s: float
) -> tuple[tuple[int, int], ...]:
    """(requests, bad) of each whole second of [start_s, end_s] from the run's start (the last
    second cut at end_s), as InfluxDB's GROUP BY time(1s) counts them."""
    edges = np.concatenate([np.arange(math.floor(start_s), end_s, 1.0), [end_s]])
    edges[0] = start_s
    index = np.searchsorted(times, edges, side="left")
    index[-1] = np.searchsorted(times, end_s, side="right")
    return tuple(zip(np.diff(index).tolist(), np.diff(bad[index]).tolist()))


def _figures(n: int, k: int, s: Scenario, at_s: float, span_s: float) -> WindowFigures:
    """One endpoint and its API group over the ``span_s`` before ``at_s`` − SETTLE_S, with the
    values ``evaluate`` judges."""
    failures = k if s.metric == "success_rate" else 0
    slow = k if s.metric == "p95" else 0
    # Nearest rank: the window's p95 is above the limit when more than n − ⌈0.95 n⌉ requests are.
    p95 = LIMIT_P95_MS * (1.5 if slow > n - math.ceil(0.95 * n) else 0.5)
    values = dict(
        requests=n,
        failures=failures,
        success_rate=100.0 * (n - failures) / max(n, 1),
        p50=LIMIT_P95_MS / 4,
        p95=p95,
        p99=max(p95, LIMIT_P95_MS),
        max=2 * LIMIT_P95_MS,
        rps=n / span_s,
    )
    measured = Measurements(
        run_id="calibration",
        test_env="",
        start=EPOCH,
        end=EPOCH,
        duration_s=span_s,
        warmup_s=0.0,
        endpoints={KEY: EndpointStats(key=KEY, api=API, **values)},
        apis={API: Stats(**values)},
    )
    end_ns = int((at_s - SETTLE_S) * S)
    return WindowFigures(
        end_ns - int(span_s * S),
        end_ns,
        measured,
        {},
        {(KEY, LIMIT_P95_MS): slow, (f"api:{API}", LIMIT_P95_MS): slow},
        (LIMIT_P95_MS,),
    )

"""Calibration of the regression decision (``--baseline``): the project's own ``estimate.stats_of``
(percentiles and per-window spreads from raw samples), ``run_unit.baseline_of`` (the baseline of one or
several runs) and ``compare.compare`` (intervals, Holm, decisions) over simulated runs.

A run has two endpoints, A and B, each with ``rate`` requests a second for ``minutes``, and their API
group (both joined in time order): 3 scopes × 4 statistics. Latencies are lognormal (median 20 ms, log
sd 0.4: p95 ≈ 1.9 × p50, p99 ≈ 2.5 × p50) whose log is an AR(1) with coefficient ``rho`` from request
to request (requests close in time alike); every run's latencies are multiplied by one run-level factor
exp(tau · Z) shared by A and B (a healthy run on a busier or quieter day); 0.5 % of requests fail.

A null scenario changes nothing between the baseline runs and this run: a statistic REGRESSED there is
a false positive, against ``regression.false_positive_rate`` (the chance that ANY statistic of a run is
called regressed; each row counts one statistic over all scopes). An effect scenario multiplies A's
latencies by a factor in this run (or raises its failures): the share of repetitions in which A's
statistic is REGRESSED is the power. Thresholds are the built-in defaults unless a row says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
from scipy.signal import lfilter

from bench.calibration.table import Row
from harness.verdict.decide.compare import compare
from harness.verdict.decide.estimate import stats_of
from harness.verdict.decide.run_unit import baseline_of
from harness.verdict.model import BaselineInfo, BaselineRun, EndpointStats, Measurements, Samples, Stats
from harness.verdict.rules.thresholds import Thresholds, parse_thresholds

A, B, GROUP = "POST /api/v1/payments", "GET /api/v1/payments", "payments"
MEDIAN_MS, LOG_SD, FAILURE = 20.0, 0.4, 0.005
STATISTICS = ("p50", "p95", "p99", "success_rate")
WORDS = {"success_rate": "success rate"}
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULTS = Thresholds()
# Only the interval protects: no minimum effect at all (the interval's own calibration).
EXACT = parse_thresholds(
    {"regression": {"min_effect_percent": 0, "min_effect_ms": 0, "max_success_rate_drop": 0}},
    source="minimum effect 0",
)


@dataclass(frozen=True)
class World:
    """How runs are made: this run and its baseline runs."""

    rate: float = 10.0  # requests a second, per endpoint
    minutes: float = 10.0  # this run's judged length
    base_minutes: float | None = None  # each baseline run's, when it differs
    rho: float = 0.0  # AR(1) of the log latency, request to request
    tau: float = 0.0  # run-level noise: sd of the log of each run's factor
    runs: int = 1  # baseline runs (1: --baseline last-pass; 3: last-3-pass; …)
    factor: float = 1.0  # this run's A latencies × factor (the effect)
    failure: float = FAILURE  # this run's A failure rate

    def requests(self, minutes: float) -> int:
        return max(1, int(round(self.rate * minutes * 60)))


def _latencies(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """log-latency noise with unit variance, AR(1) with coefficient rho (stationary from the start)."""
    z = rng.standard_normal(n)
    if rho == 0:
        return z
    first = z[0]
    x = lfilter([math.sqrt(1 - rho * rho)], [1.0, -rho], z)
    return x + (first - x[0]) * rho ** np.arange(n)  # start at a stationary draw instead of 0


def _samples(
    rng: np.random.Generator,
    n: int,
    rho: float,
    run_factor: float,
    factor: float,
    failure: float,
    offset: float,
) -> Samples:
    t = np.cumsum(rng.exponential(1.0, n)) + offset  # Poisson arrivals, in arbitrary time units
    ms = MEDIAN_MS * run_factor * factor * np.exp(LOG_SD * _latencies(rng, n, rho))
    return Samples(t, {"response_time": ms}, rng.random(n) < failure)


def simulate(rng: np.random.Generator, world: World, n: int, *, now: bool) -> tuple[dict, dict]:
    """One run's (endpoints, apis) stats, as the verdict measures them."""
    run_factor = math.exp(world.tau * rng.standard_normal())
    a = _samples(
        rng, n, world.rho, run_factor, world.factor if now else 1.0, world.failure if now else FAILURE, 0.0
    )
    b = _samples(rng, n, world.rho, run_factor, 1.0, FAILURE, 0.5)
    windows, duration = DEFAULTS.regression.windows, n / world.rate
    endpoints = {
        key: EndpointStats(key=key, api=GROUP, **stats_of(s, duration, windows))
        for key, s in ((A, a), (B, b))
    }
    return endpoints, {GROUP: Stats(**stats_of(Samples.joined([a, b]), duration, windows))}


def once(rng: np.random.Generator, world: World, thresholds: Thresholds) -> dict[tuple[str, str], str]:
    """(scope, statistic) → decision for one repetition: baseline runs, then this run, compared."""
    base_n = world.requests(world.base_minutes or world.minutes)
    runs = [BaselineRun(f"b{i}", *simulate(rng, world, base_n, now=False)) for i in range(world.runs)]
    baseline = baseline_of(
        BaselineInfo(
            "last-pass" if world.runs == 1 else f"last-{world.runs}-pass",
            tuple(r.run_id for r in runs),
            method="mean" if world.runs > 1 else "run",
        ),
        runs,
    )
    endpoints, apis = simulate(rng, world, world.requests(world.minutes), now=True)
    measured = Measurements(
        run_id="now",
        test_env="calibration",
        start=T0,
        end=T0,
        duration_s=world.minutes * 60,
        warmup_s=0.0,
        endpoints=endpoints,
        apis=apis,
    )
    return {(c.scope, c.statistic): c.decision for c in compare(thresholds, measured, baseline)}


def repeat(world: World, thresholds: Thresholds, reps: int, rng: np.random.Generator) -> list[dict]:
    return [once(rng, world, thresholds) for _ in range(reps)]


def null_rows(
    label: str,
    world: World,
    thresholds: Thresholds,
    reps: int,
    rng: np.random.Generator,
    any_statistic: bool = False,
) -> list[Row]:
    """Per statistic (and, with ``any_statistic``, for the run as a whole, which is what
    ``false_positive_rate`` bounds): repetitions in which it was REGRESSED in some scope."""
    found = repeat(world, thresholds, reps, rng)
    nominal = thresholds.regression.false_positive_rate
    out = [
        Row(
            f"regression: {WORDS.get(s, s)}",
            label,
            "fp",
            sum(any(d == "regressed" for (scope, stat), d in r.items() if stat == s) for r in found),
            reps,
            nominal,
        )
        for s in STATISTICS
    ]
    if any_statistic:
        out.append(
            Row(
                "regression: any statistic",
                label,
                "fp",
                sum(any(d == "regressed" for d in r.values()) for r in found),
                reps,
                nominal,
            )
        )
    return out


def effect_rows(
    label: str,
    world: World,
    thresholds: Thresholds,
    reps: int,
    rng: np.random.Generator,
    statistics: tuple[str, ...],
    decision: str = "regressed",
) -> list[Row]:
    found = repeat(world, thresholds, reps, rng)
    shown = "" if decision == "regressed" else f": {decision.upper()}"
    return [
        Row(
            f"regression: {WORDS.get(s, s)}",
            f"{label}{shown}",
            "power",
            sum(r.get((A, s)) == decision for r in found),
            reps,
        )
        for s in statistics
    ]


def _n(requests: int) -> str:
    return f"{requests:,}"


def rows(quick: bool, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    reps = 60 if quick else 400  # null scenarios of up to 6,000 requests a run
    big = 6 if quick else 100  # null scenarios of 60,000 requests a run or more
    out: list[Row] = []
    base = World()
    nulls = [
        (f"independent requests, 10/s, 10 min ({_n(base.requests(10))} a run), vs one run", base, reps),
        ("AR(1) ρ 0.9, 10/s, 10 min, vs one run", replace(base, rho=0.9), reps),
        ("run-level τ 5 %, vs one run", replace(base, tau=0.05), reps),
        ("run-level τ 8 %, vs one run", replace(base, tau=0.08), reps),
        ("run-level τ 5 %, vs last-3-pass", replace(base, tau=0.05, runs=3), reps),
        ("run-level τ 8 %, vs last-5-pass", replace(base, tau=0.08, runs=5), reps),
        ("AR(1) ρ 0.9 and τ 8 %, vs last-5-pass", replace(base, rho=0.9, tau=0.08, runs=5), reps),
        (
            "run sizes 10:1 (baseline 1 h, this run 6 min), 10/s, vs one run",
            replace(base, minutes=6, base_minutes=60),
            reps // 2,
        ),
        (
            "run sizes 1:10 (baseline 6 min, this run 1 h), 10/s, vs one run",
            replace(base, minutes=60, base_minutes=6),
            reps // 2,
        ),
        (f"0.5/s, 10 min ({_n(World(rate=0.5).requests(10))} a run), vs one run", World(rate=0.5), reps),
        (
            f"0.5/s, 1 h ({_n(World(rate=0.5).requests(60))} a run), vs one run",
            World(rate=0.5, minutes=60),
            reps,
        ),
        (f"100/s, 10 min ({_n(World(rate=100).requests(10))} a run), vs one run", World(rate=100), big),
        (
            f"100/s, 1 h ({_n(World(rate=100).requests(60))} a run), vs one run",
            World(rate=100, minutes=60),
            big,
        ),
    ]
    for label, world, n in nulls:
        out += null_rows(label, world, DEFAULTS, n, rng)
    # The interval alone (minimum effect 0), where its assumptions hold: run-level noise no larger
    # than the floor (one run), or measured by the baseline runs (last-N-pass).
    exact = [
        ("minimum effect 0: AR(1) ρ 0.9, vs one run", replace(base, rho=0.9)),
        ("minimum effect 0: τ 5 % (= the floor), vs one run", replace(base, tau=0.05)),
        ("minimum effect 0: τ 8 %, vs last-5-pass", replace(base, tau=0.08, runs=5)),
    ]
    for label, world in exact:
        out += null_rows(label, world, EXACT, reps, rng, any_statistic=True)

    power = 40 if quick else 200
    shifted = replace(base, tau=0.05)
    p50_effects = [
        ("p50 +12 %, τ 5 %, vs one run (one run cannot tell)", replace(shifted, factor=1.12), "regressed"),
        ("p50 +12 %, τ 5 %, vs one run", replace(shifted, factor=1.12), "inconclusive"),
        ("2× latency, τ 5 %, vs one run", replace(shifted, factor=2.0), "regressed"),
        ("+25 % latency, τ 5 %, vs last-3-pass", replace(shifted, factor=1.25, runs=3), "regressed"),
        ("+25 % latency, τ 5 %, vs last-5-pass", replace(shifted, factor=1.25, runs=5), "regressed"),
        ("+25 % latency, τ 2 %, vs last-5-pass", replace(base, tau=0.02, factor=1.25, runs=5), "regressed"),
    ]
    for label, world, decision in p50_effects:
        out += effect_rows(label, world, DEFAULTS, power, rng, ("p50",), decision)
    # p95 and p99: how many requests a run needs to decide them (τ 2 %, vs last-5-pass and vs one run).
    for requests in (1_000, 3_000, 10_000) if quick else (1_000, 3_000, 10_000, 30_000):
        world = replace(base, tau=0.02, factor=1.2, runs=5, minutes=requests / 600)
        out += effect_rows(
            f"+20 % latency, {_n(requests)} requests a run, τ 2 %, vs last-5-pass",
            world,
            DEFAULTS,
            power // 2,
            rng,
            ("p95", "p99"),
        )
    for requests in (3_000, 10_000) if quick else (1_000, 3_000, 10_000, 30_000):
        world = replace(base, tau=0.02, factor=1.5, minutes=requests / 600)
        out += effect_rows(
            f"+50 % latency, {_n(requests)} requests a run, τ 2 %, vs one run",
            world,
            DEFAULTS,
            power // 2,
            rng,
            ("p95", "p99"),
        )
    world = replace(base, tau=0.02, factor=1.2, minutes=10_000 / 600)
    out += effect_rows(
        "+20 % latency, 10,000 requests a run, τ 2 %, vs one run",
        world,
        DEFAULTS,
        power // 2,
        rng,
        ("p95", "p99"),
    )
    out += effect_rows(
        "success rate 99.5 → 97 %, 6,000 requests, vs one run",
        replace(base, failure=0.03),
        DEFAULTS,
        power,
        rng,
        ("success_rate",),
    )
    return out

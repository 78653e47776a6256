"""The verdict's data: what was measured, what was checked, what was decided.

Plain frozen dataclasses so the evaluator stays a pure function and tests can build
inputs by hand. Latencies are milliseconds, success rates are percent (0–100), times UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from harness.exitcodes import ExitCode

VerdictName = Literal["pass", "fail", "inconclusive", "error"]
CheckKind = Literal["absolute", "regression", "data", "load"]
LoadModel = Literal["users", "arrival"]
Decision = Literal["regressed", "no change", "improved", "inconclusive"]

# The statistics a run is compared on with its baseline; percentiles of response_time in ms,
# success_rate in percent.
COMPARED = ("p50", "p95", "p99", "success_rate")


@dataclass(frozen=True)
class Spread:
    """How much a run's value of one statistic would vary from sampling alone: the standard error
    from the statistic's values in consecutive windows of the run (batch means), so requests close
    in time, which are not independent, stay together."""

    se: float
    windows: int  # the error has windows - 1 degrees of freedom


@dataclass(frozen=True)
class Stats:
    """Request statistics over one scope, computed from raw points (exact percentiles)."""

    requests: int
    failures: int
    success_rate: float | None  # percent; None when there were no requests
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    rps: float
    # Statistic (one of COMPARED) → its per-window standard error; absent when the run had too
    # few requests for one (docs/baselines.md).
    spread: dict[str, Spread] = field(default_factory=dict, compare=False)

    def value(self, statistic: str) -> float | None:
        value: float | None = getattr(self, statistic)
        return value


def summary_error_fields(stats: Stats) -> dict[str, float | int]:
    """The spread as ``run_summary`` fields (``p95_se``, ``p95_windows``, …), so a later run can
    use this one as its baseline without its raw points; read back by ``spread_from_fields``.
    ``spreads`` (how many statistics have one, 0–4) is always written: it tells a scope with too
    few requests for any spread from a row stored before spreads were."""
    out: dict[str, float | int] = {"spreads": len(stats.spread)}
    for statistic, spread in stats.spread.items():
        out[f"{statistic}_se"] = float(spread.se)
        out[f"{statistic}_windows"] = int(spread.windows)
    return out


def spread_from_fields(row: dict[str, Any]) -> dict[str, Spread]:
    return {
        s: Spread(float(row[f"{s}_se"]), int(row[f"{s}_windows"]))
        for s in COMPARED
        if row.get(f"{s}_se") is not None and row.get(f"{s}_windows") is not None
    }


@dataclass(frozen=True, kw_only=True)
class EndpointStats(Stats):
    """Stats of one endpoint; ``key`` is "METHOD name", e.g. "GET /api/v1/generations/[id]"."""

    key: str
    api: str  # auth | generation | payments | other


@dataclass(frozen=True)
class Latency:
    """Latency of one scope measured from each iteration's scheduled start (arrival model):
    the ``scheduled_response_time`` field, exact percentiles like ``Stats``."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class LoadWindow:
    """One window of one API's arrivals, summed over workers, with what the verdict needs to tell
    whose limit was hit when the rate was off: the load generator's state and the API's answers."""

    start_s: float  # seconds from the run's first request
    end_s: float
    target_per_s: float  # arrivals asked for, per second (the plan's rate over the window)
    scheduled: int  # the load generator's counts (``arrivals`` points): arrivals due …
    started: int  # … iterations started (on time or late) …
    late: int  # … arrivals that found every user of the pool busy and waited …
    dropped: int  # … and arrivals given up, late past the bound
    requests: int | None = None  # the API's key request, stored points: the iterations that started
    max_lag_ms: float | None = None  # the latest start behind its schedule
    cpu_max_percent: float | None = None  # the busiest load-generator process
    loop_lag_max_ms: float | None = None  # the worst event-loop lag of a load-generator process
    pool_users: int | None = None  # users in the pool, summed over workers
    # The API's slowest answer (response_time) in flight at any time in the window: what held
    # the users when arrivals had to wait, whichever window the request started in.
    slowest_in_flight_ms: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def iterations(self) -> int:
        """Iterations that started: the stored key requests, else the load generator's count."""
        return self.requests if self.requests is not None else self.started

    @property
    def achieved_per_s(self) -> float:
        return self.iterations / self.duration_s

    @property
    def requests_per_s(self) -> float | None:
        return None if self.requests is None else self.requests / self.duration_s


@dataclass(frozen=True)
class ApiLoad:
    """The arrival rate asked of one API and what was achieved, per window after the warm-up."""

    api: str
    target_per_s: float  # the mean rate asked over the judged windows
    windows: list[LoadWindow]
    scheduled: int  # the load generator's totals over the judged windows
    started: int
    late: int
    dropped: int
    max_lag_ms: float | None = None
    defining: str | None = None  # the key request each iteration starts with, e.g. "POST /api/v1/payments"
    poisson: bool = False  # arrivals at random (Poisson) times: a window's count varies by √asked

    @property
    def requests(self) -> int | None:
        known = [w.requests for w in self.windows if w.requests is not None]
        return sum(known) if known else None

    @property
    def achieved_per_s(self) -> float | None:
        """Iterations started per second over the judged windows; None without a full window."""
        judged_s = sum(w.duration_s for w in self.windows)
        return sum(w.iterations for w in self.windows) / judged_s if judged_s else None


@dataclass(frozen=True)
class Completeness:
    """What the listeners counted against what InfluxDB holds, summed over all workers."""

    seen: int  # requests the listeners counted
    stored: int  # request points found in InfluxDB
    dropped: int  # points a listener gave up on
    spooled: int  # points a listener had to keep on disk
    workers: int  # processes that reported their counts
    # Processes whose last counts are not final: they stopped (killed, out of memory, host lost)
    # before counting their last requests, so nobody knows how many points are missing.
    lost_workers: tuple[str, ...] = ()
    quarantined: int = 0  # request points InfluxDB refused one by one (kept in a quarantine file)

    @property
    def missing(self) -> int:
        return max(0, self.seen - self.stored)


@dataclass(frozen=True)
class Measurements:
    """Everything the verdict needs about one run, read from InfluxDB by the query layer."""

    run_id: str
    test_env: str
    start: datetime  # first instant judged (run start + warm-up), UTC
    end: datetime
    duration_s: float  # judged window, after warm-up
    warmup_s: float
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    apis: dict[str, Stats] = field(default_factory=dict)  # each group over its raw points
    generation_rate: float | None = None  # achieved generations per second
    generation_target: float | None = None  # generations per second the run aimed at
    completeness: Completeness | None = None
    cpu_max_percent: float | None = None  # load generator's highest CPU use
    warnings: list[str] = field(default_factory=list)
    # The judged window in ns, both ends included: the exact bounds of every query (the
    # datetimes above are rounded to microseconds). None when built by hand from datetimes.
    start_ns: int | None = None
    end_ns: int | None = None
    load_model: LoadModel = "users"
    # Arrival model: per API given a rate, the rate asked and achieved; APIs not in here had none.
    load: dict[str, ApiLoad] = field(default_factory=dict)
    # Arrival model: latency from the scheduled start, per endpoint key and per API group.
    scheduled: dict[str, Latency] = field(default_factory=dict)
    scheduled_apis: dict[str, Latency] = field(default_factory=dict)
    peak_users: int | None = None  # users running at once, summed over workers
    abort: AbortRecord | None = None  # when the live checks stopped the run early
    # Where the latencies came from: "requests" (every request's point, exact percentiles) or
    # "sketches" (per-second sketches, percentiles within their stated accuracy), and that accuracy.
    source: str = "requests"
    accuracy: str = ""

    @property
    def total_requests(self) -> int:
        return sum(stats.requests for stats in self.endpoints.values())

    @property
    def window_ns(self) -> tuple[int, int]:
        if self.start_ns is not None and self.end_ns is not None:
            return self.start_ns, self.end_ns
        return int(self.start.timestamp() * 1e6) * 1000, int(self.end.timestamp() * 1e6) * 1000


@dataclass(frozen=True)
class BaselineInfo:
    """Which stored run(s) a run was compared with, and whether the comparison could be made."""

    spec: str  # as asked: a run id, "last-pass" or "last-N-pass"
    run_ids: tuple[str, ...]  # the runs used, newest first; empty when none was found
    method: str = "run"  # "run" (one run) or "mean" (mean of the runs' values)
    forced: bool = False  # --baseline-force: compared although the load differs
    load_difference: str | None = None  # e.g. "users 20 vs 40"; None when the load matches
    unusable: str | None = None  # one line: why nothing was compared; None when compared
    note: str | None = None  # one line worth a warning, e.g. fewer runs found than asked for


@dataclass(frozen=True)
class BaselineRun:
    """One baseline run's own numbers: a baseline of several runs keeps each, since the spread between
    them is the run-to-run variation a new run is judged against."""

    run_id: str
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    apis: dict[str, Stats] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    """What a run is compared with: the baseline's values per endpoint and API group (for several
    runs, the mean of their values) and each run's own numbers."""

    info: BaselineInfo
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    apis: dict[str, Stats] = field(default_factory=dict)
    # Each baseline run's numbers; empty when built from one run's stats (``endpoints``/``apis`` are it).
    runs: tuple[BaselineRun, ...] = ()

    @classmethod
    def of(cls, measured: Measurements, spec: str | None = None) -> Baseline:
        """One measured run as a baseline."""
        return cls(
            BaselineInfo(spec or measured.run_id, (measured.run_id,)),
            dict(measured.endpoints),
            dict(measured.apis),
        )

    def scope_runs(self, endpoint: str, api: str) -> list[Stats]:
        """One scope (an endpoint key, or "" and its API group) in each baseline run that has it."""
        runs = self.runs or (BaselineRun("", self.endpoints, self.apis),)
        found = [r.endpoints.get(endpoint) if endpoint else r.apis.get(api) for r in runs]
        return [s for s in found if s is not None]

    @property
    def label(self) -> str:
        ids = self.info.run_ids
        if len(ids) == 1:
            return f"run {ids[0]}"
        return f"the mean of runs {', '.join(ids)}"


@dataclass(frozen=True)
class Comparison:
    """One statistic of one scope compared with the baseline: the change, its confidence
    interval, and the decision against the practical minimum effect."""

    scope: str  # endpoint key or "api:GROUP"
    api: str
    endpoint: str  # endpoint key, "" for an API group
    statistic: str  # one of COMPARED
    baseline: float | None
    current: float | None
    change: float | None  # current - baseline, in ms or percentage points
    change_percent: float | None  # relative to the baseline; None when the baseline is 0
    low: float | None  # confidence interval of the change
    high: float | None
    confidence: float  # two-sided level of [low, high]
    min_effect: float  # > 0, in the change's unit
    limit: float | None  # the line beyond which the value counts as a regression
    decision: Decision
    reason: str  # one line
    # What the interval was built from: the baseline runs it used and, with fewer than 3, the
    # run-to-run floor assumed (percent; None: the baseline runs' own spread, a prediction interval).
    runs: int = 1
    run_to_run_percent: float | None = None
    p_value: float | None = None  # of "no regression beyond the minimum effect"; None without an interval


@dataclass(frozen=True)
class Check:
    """One comparison of an observed number with a limit.

    ``passed`` is None when the check could not be evaluated (no data, too few samples);
    such a check can never let a run pass.
    """

    scope: str  # "POST /api/v1/payments", "api:generation" or "run"
    metric: str  # success_rate, p95, throughput, samples, completeness, p95_vs_baseline, …
    threshold: float
    observed: float | None
    passed: bool | None
    kind: CheckKind
    message: str


_EXIT_CODES: dict[str, ExitCode] = {
    "pass": ExitCode.PASS,
    "fail": ExitCode.FAIL,
    "inconclusive": ExitCode.ERROR,
    "error": ExitCode.ERROR,
}


@dataclass(frozen=True)
class Verdict:
    run_id: str
    verdict: VerdictName
    checks: list[Check]
    reasons: list[str]  # one line per failed or unevaluable check, and per error
    warnings: list[str]
    measurements: Measurements
    baseline_run_id: str | None = None
    baseline: BaselineInfo | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    abort: AbortOutcome | None = None  # when the live checks stopped the run early

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self.verdict]


def scope_status(checks: list[Check], scope: str) -> str:
    """One word for a scope's checks: "fail" if any failed, "not judged" if any could not be
    evaluated, "pass" if all passed, "none" if the scope has no checks."""
    results = [c.passed for c in checks if c.scope == scope]
    if not results:
        return "none"
    if False in results:
        return "fail"
    if None in results:
        return "not judged"
    return "pass"


def baseline_values(verdict: Verdict) -> dict[str, dict[str, float]]:
    """Scope → {statistic: the baseline's value} for every statistic compared (dashboards draw
    these as the baseline's series)."""
    out: dict[str, dict[str, float]] = {}
    for c in verdict.comparisons:
        if c.baseline is not None:
            out.setdefault(c.scope, {})[c.statistic] = c.baseline
    return out


def regression_limits(verdict: Verdict) -> list[dict[str, Any]]:
    """The regression lines as ``threshold`` rows (like ``thresholds_as_points``): metric
    ``p95_regression`` etc., value = baseline + minimum effect (success rate: minus)."""
    return [
        {
            "scope": c.scope,
            "api": c.api,
            "endpoint": c.endpoint,
            "metric": f"{c.statistic}_regression",
            "value": float(c.limit),
        }
        for c in verdict.comparisons
        if c.limit is not None
    ]


# -- the raw values and windows the verdict reads, and an abort ---------------------------------
# The load generator's own CPU, a check of the live checks (rules/abort_rule.py); here so the abort's
# text can name it without the model importing the rules.
CPU = "cpu"


@dataclass(frozen=True)
class Samples:
    """The raw requests of one scope in the judged window, in time order."""

    t_ns: np.ndarray  # float64 ns since the epoch (ordering and windows only, not exact)
    values: dict[str, np.ndarray]  # latency field → float64 ms, NaN where a point lacks it
    failed: np.ndarray  # bool, the request's result tag was "fail"

    @property
    def count(self) -> int:
        return len(self.t_ns)

    @classmethod
    def joined(cls, parts: list[Samples]) -> Samples:
        """Several scopes' samples as one, in time order (an API group from its endpoints)."""
        t = np.concatenate([p.t_ns for p in parts])
        order = np.argsort(t, kind="stable")  # timsort: linear on already-sorted runs
        return cls(
            t[order],
            {f: np.concatenate([p.values[f] for p in parts])[order] for f in parts[0].values},
            np.concatenate([p.failed for p in parts])[order],
        )


# What a per-second count counts: a scope's failures (None) or its requests slower than a limit.
SecondsKey = tuple[str, float | None]


def seconds_key(scope: str, metric: str, limit: float) -> SecondsKey:
    return (scope, None if metric == "success_rate" else float(limit))


@dataclass(frozen=True)
class WindowFigures:
    start_ns: int
    end_ns: int
    measured: Measurements  # endpoints and API groups over the window
    cpu: dict[str, tuple[float, int]]  # worker → (lowest CPU % in the window, samples)
    # (scope, latency limit in ms) → requests of the scope slower than that limit in the window:
    # the count the exact test of a pXX limit needs (decide/sequential.py).
    slow: dict[tuple[str, float], int] = field(default_factory=dict)
    slow_limits: tuple[float, ...] = ()  # the limits counted: a scope absent from ``slow`` had none slower
    # Per second, in time order, (requests, bad) of a scope over the window and the span before it
    # (decide/dispersion.py): keyed by (scope, None) for failures, (scope, limit) for requests
    # slower than that limit. Read only for a check whose plain exact test rejects.
    seconds: dict[SecondsKey, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def requests(self, scope: str) -> int:
        """Requests (or, for a worker's CPU, samples) behind a check's scope in this window."""
        m = self.measured
        if scope.startswith("api:"):
            stats = m.apis.get(scope[4:])
        elif scope.startswith("worker:"):
            return self.cpu.get(scope[7:], (0.0, 0))[1]
        else:
            stats = m.endpoints.get(scope)
        return stats.requests if stats is not None else 0

    def per_second(self, scope: str, metric: str, limit: float) -> tuple[tuple[int, int], ...] | None:
        """The per-second counts behind a check's exact test, None when they were not read."""
        return self.seconds.get(seconds_key(scope, metric, limit))

    def bad(self, scope: str, metric: str, limit: float) -> int | None:
        """The count an exact test of the check needs: the scope's failures (success_rate) or its
        requests slower than ``limit`` (pXX); None when the window read did not count them."""
        if metric == "success_rate":
            m = self.measured
            stats = m.apis.get(scope[4:]) if scope.startswith("api:") else m.endpoints.get(scope)
            return stats.failures if stats is not None else 0
        if limit in self.slow_limits:
            return self.slow.get((scope, limit), 0)
        return None


# An exact test as JSON fields: in verdict.json and in the abort's ``breaches`` field.
TestFields = dict[str, float | int | str | bool]


@dataclass(frozen=True)
class ExactTest:
    """One scope's check over one stretch of points, tested exactly (decide/sequential.py)."""

    scope: str
    metric: str  # success_rate, p50, p95 or p99
    n: int  # requests
    count: int  # failures (success_rate) or requests slower than the limit (pXX)
    p0: float  # the chance of such a request when the limit just holds
    p_value: float  # P(X ≥ count) for X ~ Binomial(n, p0), on the effective counts when φ > 1
    level: float  # the test rejects when p_value ≤ level
    # φ: how much more the scope's bad requests varied than independent ones would
    # (decide/dispersion.py); the test ran on count / φ of n / φ. 1: independent, the exact test.
    dispersion: float = 1.0
    dispersion_seconds: int = 0  # the per-second counts φ came from (0: not read, φ taken as 1)

    @property
    def test(self) -> str:
        return (
            "exact one-sided binomial" if self.dispersion <= 1.0 else "one-sided binomial, effective counts"
        )

    @property
    def rejected(self) -> bool:
        return self.p_value <= self.level

    def text(self) -> str:
        what = "failed" if self.metric == "success_rate" else "slower than the limit"
        sign = "≤" if self.rejected else ">"
        # Neutral words: φ a little above 1 is noise of its estimate, not a burst.
        bursts = (
            ""
            if self.dispersion <= 1.0
            else f" (dispersion {self.dispersion:.3g}: tested as {self.count / self.dispersion:.3g} of "
            f"{self.n / self.dispersion:.3g} independent requests)"
        )
        return f"{self.count} of {self.n} {what}{bursts}, p = {self.p_value:.2g} {sign} {self.level:.2g}"

    def as_dict(self) -> TestFields:
        return {
            "test": self.test,
            "scope": self.scope,
            "metric": self.metric,
            "n": self.n,
            "count": self.count,
            "dispersion": self.dispersion,
            "dispersion_seconds": self.dispersion_seconds,
            "null_probability": self.p0,
            "p_value": self.p_value,
            "level": self.level,
            "rejected": self.rejected,
        }


AbortKind = Literal["fail", "inconclusive"]


@dataclass(frozen=True)
class Breach:
    """A check that failed over the window, as the live check saw it."""

    scope: str
    metric: str
    threshold: float
    observed: float | None
    requests: int  # requests of the scope in the window (CPU samples for a worker)
    message: str
    test: TestFields | None = None  # ExactTest.as_dict() for success_rate and pXX; None for max, rps, cpu


@dataclass(frozen=True)
class AbortRecord:
    at_s: float  # seconds from the test's start to the decision
    time_ns: int  # when it was decided
    kind: AbortKind  # "fail": a limit of the target; "inconclusive": the load generator's CPU
    start_ns: int  # the window that was judged
    end_ns: int
    breaches: tuple[Breach, ...]  # target limits first
    exact: WindowFigures | None = None  # the same window, re-read from the complete stored points
    judged: WindowFigures | None = None  # counts over the whole judged run (for the confirmation)
    look: int = 1  # which look of the run decided (1 = the first window judged)
    looks: int | None = None  # the looks the run could make (None: no run time, so no end known)
    alpha: float = 0.01  # abort.alpha in force

    @property
    def test_start_ns(self) -> int:
        return self.time_ns - int(self.at_s * 1e9)

    def window_text(self) -> str:
        """``t=9–29 s``: the window in seconds from the test's start, as people read a run."""
        start = (self.start_ns - self.test_start_ns) / 1e9
        end = (self.end_ns - self.test_start_ns) / 1e9
        return f"the {(self.end_ns - self.start_ns) / 1e9:.0f} s window t={start:.0f}–{end:.0f} s"

    def text(self) -> str:
        first = self.breaches[0]
        more = f" (and {len(self.breaches) - 1} more)" if len(self.breaches) > 1 else ""
        # A tested check's message already says its count of requests ("12 of 24 failed, p = …").
        count = "" if first.test else f" ({count_text(first.metric, first.requests)})"
        return f"aborted at t={self.at_s:.0f}s: {first.message} over {self.window_text()}{count}{more}"


@dataclass(frozen=True)
class AbortOutcome:
    record: AbortRecord
    confirmed: bool  # a check that stopped the run is confirmed on data that did not trigger it
    exact: tuple[Check, ...]  # the stopping checks, judged on the complete points of the window
    whole_run: tuple[Check, ...]  # the same scopes and metrics over the whole judged run
    check: Check  # the "run / abort" check the verdict carries
    # The exact tests on the judged run's points outside the triggering window, per tested breach.
    confirmation: tuple[ExactTest, ...] = ()


def count_text(metric: str, n: int) -> str:
    return f"{n} CPU samples" if metric == CPU else f"{n} requests"

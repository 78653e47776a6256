"""The change of one statistic between a run and its baseline, with the RUN as the unit. Pure.

Healthy runs of one service differ from run to run by more than the noise inside one run (another
machine's neighbour, a cache, a JIT): an interval built from within-run noise alone calls those
differences regressions. So the variance of the change always holds a run-to-run term:

- N >= 3 baseline runs (``--baseline last-N-pass``): the prediction interval of a new run from the
  baseline runs' values, mean ± t(N - 1) · s · sqrt(1 + 1/N), where s, the spread between the
  baseline runs, holds their run-to-run variation and their own within-run noise together; plus this
  run's own within-run error. Degrees of freedom by Welch–Satterthwaite.
- fewer baseline runs cannot measure run-to-run variation: a floor is assumed instead,
  ``regression.run_to_run_percent`` of the value (latencies) or of the failure rate (success rate)
  for every run, beside each run's within-run error (and, with two runs, their spread if larger).

A statistic whose spread is zero, NaN or infinite, or whose value is not a finite number, has no
interval: it cannot decide anything (``why_not`` says why).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from harness.verdict.model import COMPARED, Baseline, BaselineInfo, BaselineRun, EndpointStats, Spread, Stats

# Baseline runs from which their own spread is used (a prediction interval); fewer use the floor.
MIN_RUNS_FOR_SPREAD = 3
TOO_FEW = "too few requests for an interval"  # the one reason the comparison words with the counts


@dataclass(frozen=True)
class Contrast:
    """This run's value against the baseline's for one statistic, and how far it may move by chance."""

    current: float | None
    center: float | None  # the baseline's value: the mean of its runs' values
    runs: int  # baseline runs
    floor_percent: float | None  # the run-to-run floor assumed (fewer than 3 runs), else None
    sd: float | None = None  # standard deviation of the change under "no change"; None: no interval
    df: float = math.inf
    why_not: str | None = None  # why there is no interval (None when there is one)

    @property
    def change(self) -> float | None:
        if self.current is None or self.center is None:
            return None
        return self.current - self.center

    @property
    def method(self) -> str:
        return "prediction" if self.floor_percent is None else "floor"


def within_se(stats: Stats, statistic: str) -> tuple[float, int] | None:
    """The run's own standard error of a statistic and its windows (batch means), or None with too
    few requests. A success rate's error is never below the binomial one (Agresti–Coull), so a run
    with no failure in any window still has one: dependence only widens a rate's spread."""
    spread = stats.spread.get(statistic)
    if spread is None:
        return None
    se = spread.se
    if statistic == "success_rate" and stats.requests > 0:
        p = (stats.failures + 2) / (stats.requests + 4)
        se = max(se, 100.0 * math.sqrt(p * (1 - p) / (stats.requests + 4)))
    return se, spread.windows


def contrast(statistic: str, now: Stats, runs: list[Stats], run_to_run_percent: float) -> Contrast:
    """The change of ``statistic`` from the baseline ``runs`` (one Stats per baseline run, this
    scope) to ``now``, with its standard deviation under "no change"."""
    current = now.value(statistic)
    values = [r.value(statistic) for r in runs]
    n = len(runs)
    floor = None if n >= MIN_RUNS_FOR_SPREAD else run_to_run_percent
    finite = [v for v in values if v is not None and math.isfinite(v)]
    center = statistics.fmean(finite) if len(finite) == n and n else None
    base = Contrast(current, center, n, floor)
    if current is None or any(v is None for v in values):
        return _without(base, "has no value in this run or in the baseline")
    if not math.isfinite(current):
        return _without(base, f"is {current} in this run, not a finite number")
    if center is None:
        bad = next(v for v in values if v is not None and not math.isfinite(v))
        return _without(base, f"is {bad} in the baseline, not a finite number")
    mine = within_se(now, statistic)
    if mine is None:
        return _without(base, TOO_FEW)
    if not all(math.isfinite(x) for x in mine):
        return _without(base, "its spread in this run is not a finite number")
    if mine[0] == 0:
        return _without(base, _no_spread("this run", mine[1], statistic))
    if n >= MIN_RUNS_FOR_SPREAD:
        s2 = statistics.variance(finite)
        if s2 == 0:
            return _without(
                base,
                f"the {n} baseline runs all have the same value ({finite[0]:g}): no "
                f"run-to-run spread to compare with",
            )
        between = s2 * (1 + 1 / n)
        variance = between + mine[0] ** 2
        df = variance**2 / (between**2 / (n - 1) + mine[0] ** 4 / (mine[1] - 1))
        return _with(base, variance, df)
    errors = [within_se(r, statistic) for r in runs]
    theirs = [t for t in errors if t is not None]
    if len(theirs) < n:
        return _without(base, TOO_FEW)
    if not all(math.isfinite(x) for t in theirs for x in t):
        return _without(base, "its spread in the baseline is not a finite number")
    if any(t[0] == 0 for t in theirs):
        zero = next(t for t in theirs if t[0] == 0)
        return _without(base, _no_spread("the baseline", zero[1], statistic))
    scale = (100.0 - center) if statistic == "success_rate" else abs(center)
    tau2 = (run_to_run_percent / 100.0 * scale) ** 2
    if n == 2:  # two runs hold a (one-degree-of-freedom) glimpse of their spread: never below it
        tau2 = max(tau2, statistics.variance(finite))
    within_base = sum(t[0] ** 2 for t in theirs) / n**2
    variance = mine[0] ** 2 + within_base + tau2 * (1 + 1 / n)
    # The floor is taken as known: only the within-run errors are estimates.
    denominator = mine[0] ** 4 / (mine[1] - 1) + sum((t[0] ** 2 / n**2) ** 2 / (t[1] - 1) for t in theirs)
    df = variance**2 / denominator if denominator > 0 else math.inf
    return _with(base, variance, df)


def _with(base: Contrast, variance: float, df: float) -> Contrast:
    if not (math.isfinite(variance) and variance > 0):
        return _without(base, "its spread is not a positive finite number")
    return Contrast(base.current, base.center, base.runs, base.floor_percent, math.sqrt(variance), df)


def _without(base: Contrast, why: str) -> Contrast:
    return Contrast(base.current, base.center, base.runs, base.floor_percent, None, math.inf, why)


def _no_spread(where: str, windows: int, statistic: str) -> str:
    words = "success rate" if statistic == "success_rate" else statistic
    return (
        f"no spread in {where}: its {windows} windows all give the same {words} (constant values), so an "
        f"interval would have no width"
    )


def combined(runs: list[Stats]) -> dict[str, Any]:
    """One scope over several baseline runs, as Stats' fields: each statistic the mean of the runs'
    values (the centre of the prediction interval), its spread the standard error of that mean from
    the runs' values (N - 1 degrees of freedom); requests and failures summed."""
    out: dict[str, Any] = dict(
        requests=sum(s.requests for s in runs),
        failures=sum(s.failures for s in runs),
        max=_mean([s.max for s in runs]),
        rps=_mean([s.rps for s in runs]) or 0.0,
    )
    spread: dict[str, Spread] = {}
    for statistic in COMPARED:
        values = [v for s in runs if (v := s.value(statistic)) is not None]
        mean = out[statistic] = _mean([s.value(statistic) for s in runs])
        if mean is not None and len(values) >= 2 and math.isfinite(mean):
            spread[statistic] = Spread(math.sqrt(statistics.variance(values) / len(values)), len(values))
    out["spread"] = spread
    return out


def _mean(values: list[float | None]) -> float | None:
    """The mean when every run has a value, else None (a statistic some run lacks is not compared)."""
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present and len(present) == len(values) else None


def baseline_of(info: BaselineInfo, runs: list[BaselineRun]) -> Baseline:
    """The baseline of these runs: each run's own numbers, and per endpoint and API group that every
    run has, the mean of their values (one run: its own)."""
    if len(runs) == 1:
        return Baseline(info, dict(runs[0].endpoints), dict(runs[0].apis), tuple(runs))
    endpoints = {
        key: EndpointStats(
            key=key, api=runs[0].endpoints[key].api, **combined([r.endpoints[key] for r in runs])
        )
        for key in sorted(set.intersection(*(set(r.endpoints) for r in runs)))
    }
    apis = {
        api: Stats(**combined([r.apis[api] for r in runs]))
        for api in sorted(set.intersection(*(set(r.apis) for r in runs)))
    }
    return Baseline(info, endpoints, apis, tuple(runs))

"""Where a series of per-run values changes level: ruptures' PELT with an L1 cost, then a merge
that keeps only changes a user would act on.

Chosen by measurement over Apache Otava and MongoDB's e-divisive (bench/bench_changepoints.py,
docs/decisions.md): the L1 cost (segment medians) is not thrown by a single slow run, and the
penalty comes from the series' own noise, so nothing is tuned per endpoint. Pure: values in,
shifts out; reading and storing the history is harness/history/runs.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import median

import numpy as np

MIN_SEGMENT = 3  # runs: a level needs three runs, so one outlier run is never a level of its own
PENALTY_FACTOR = 3  # per change point, times noise × log(runs): BIC-like, not fitted to any data
# The noise is never taken below this share of the series' median level. A success rate that sits
# at 100 % has successive differences that are mostly 0, so their median — the noise — is 0 and
# the penalty collapses: every pair of one-run dips became a "level". No run-to-run measure is
# steadier than 1 % of its level; bench/calibration/changepoints.py measures both sides of it.
NOISE_FLOOR = 0.01


@dataclass(frozen=True)
class Shift:
    """A change of level: ``index`` is the first value at the new level."""

    index: int
    before: float  # median of the level before
    after: float  # median of the level from ``index`` on

    @property
    def change(self) -> float:
        return self.after - self.before

    @property
    def change_percent(self) -> float | None:
        return 100.0 * self.change / self.before if self.before else None


def noise(values: Sequence[float] | np.ndarray) -> float:
    """The values' noise as a standard deviation, from successive differences (a level shift moves
    one difference only) with the median absolute deviation (one outlier moves nothing)."""
    diffs = np.abs(np.diff(np.asarray(values, dtype=float)))
    return 1.4826 * float(np.median(diffs)) / math.sqrt(2) if len(diffs) else 0.0


def detect(values: Sequence[float] | np.ndarray) -> list[int]:
    """Indices where a new level starts, by PELT (exact, O(n) on average) with an L1 cost."""
    import ruptures  # a few hundred ms to import: only when a history is analysed

    series = np.asarray(values, dtype=float)
    if len(series) < 2 * MIN_SEGMENT or not np.all(np.isfinite(series)):
        return []
    sigma = max(noise(series), NOISE_FLOOR * abs(float(np.median(series)))) or 1e-9 * (
        float(np.max(np.abs(series))) or 1.0
    )
    penalty = PENALTY_FACTOR * sigma * math.log(len(series))
    ends = ruptures.Pelt(model="l1", min_size=MIN_SEGMENT, jump=1).fit(series).predict(pen=penalty)
    return [int(end) for end in ends[:-1]]


def level_shifts(
    values: Sequence[float] | np.ndarray, min_effect: Callable[[float], float] | None = None
) -> list[Shift]:
    """The level shifts of ``values`` whose size reaches ``min_effect(level before)``.

    Detected boundaries whose neighbouring levels differ by less than the minimum effect are merged
    away one at a time, smallest first, and the medians recomputed: a slow drift found as two small
    steps becomes one shift when together they matter.

    A value that is not a finite number (NaN, ±inf) never decides: it is left out, as a run that
    did not call the endpoint is (``refused`` says how many), and indices stay those of ``values``."""
    kept = [i for i, v in enumerate(values) if _finite(v)]
    finite = [float(values[i]) for i in kept]
    points = detect(finite)
    while points:
        shifts = _shifts(finite, points)
        if min_effect is None:
            return [replace(s, index=kept[s.index]) for s in shifts]
        margins = [abs(s.change) - min_effect(s.before) for s in shifts]
        weakest = min(range(len(shifts)), key=lambda i: margins[i])
        if margins[weakest] >= 0:
            return [replace(s, index=kept[s.index]) for s in shifts]
        del points[weakest]
    return []


def refused(values: Sequence[float]) -> int:
    """How many of ``values`` are not finite numbers: left out of the analysis."""
    return sum(not _finite(v) for v in values)


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _shifts(values: list[float], points: list[int]) -> list[Shift]:
    bounds = [0, *points, len(values)]
    levels = [median(values[a:b]) for a, b in zip(bounds, bounds[1:])]
    return [Shift(point, levels[i], levels[i + 1]) for i, point in enumerate(points)]

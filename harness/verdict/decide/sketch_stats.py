"""Sketch mode's statistics, pure: from a scope's per-second sketches (``request_sketch`` points,
read by reads/sketches.py) every number the raw points give — requests, failures, success rate,
max, p50/p95/p99 within the sketch's 1 %, their per-window spread, and in the arrival model the
latency from the scheduled start — so the evaluator, the comparison with a baseline and the
reports cannot tell the sources apart except by the accuracy they state.

Counts, failures and max are exact: sums and maxima of exact per-second numbers. Percentiles come
from the merged sketch of the judged window (bucket counts add exactly; harness/influx/sketch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.influx.sketch import MAPPING, RELATIVE_ACCURACY, Sketch
from harness.verdict.decide.estimate import MIN_WINDOWS, PERCENTILES, _standard_error, windows_for
from harness.verdict.model import Latency, Spread

SOURCES = ("requests", "sketches")


def accuracy_note(source: str) -> str:
    if source == "sketches":
        return (
            f"percentiles from merged DDSketch sketches (relative accuracy {RELATIVE_ACCURACY:.0%}); "
            f"counts, failures and max exact"
        )
    return "percentiles exact (nearest rank over every request point)"


@dataclass
class Bins:
    """Many rows' sketches in flat arrays: row i's buckets are ``keys[offsets[i]:offsets[i + 1]]``
    with ``counts`` alike, its zeros ``zeros[i]``. Parsed in one pass (numpy reads the text), and any
    set of rows merges with one ``bincount``."""

    zeros: np.ndarray  # int64 per row
    offsets: np.ndarray  # int64, rows + 1
    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def parse(cls, texts: list[str | None]) -> Bins:
        zeros = np.zeros(len(texts), dtype=np.int64)
        lengths = np.zeros(len(texts), dtype=np.int64)
        bins = []
        for i, text in enumerate(texts):
            if not text:
                continue
            z, _, b = text.partition(";")
            zeros[i] = int(z or 0)
            if b:
                lengths[i] = b.count(":")
                bins.append(b)
        # numpy's text reader: 6x faster than splitting in Python for the millions of numbers of a long run
        flat = (
            np.fromstring(",".join(bins).replace(":", ","), dtype=np.int64, sep=",")
            if bins
            else np.zeros(0, dtype=np.int64)
        )
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return cls(zeros, offsets, flat[0::2], flat[1::2])

    def take(self, rows: np.ndarray) -> Bins:
        """These rows, in this order."""
        lengths = np.diff(self.offsets)[rows]
        starts = self.offsets[:-1][rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Bins(self.zeros[rows], offsets, self.keys[index], self.counts[index])

    @classmethod
    def joined(cls, parts: list[Bins]) -> Bins:
        shift = np.cumsum([0] + [len(p.keys) for p in parts[:-1]])
        return cls(
            np.concatenate([p.zeros for p in parts]),
            np.concatenate([[0]] + [p.offsets[1:] + k for p, k in zip(parts, shift)]),
            np.concatenate([p.keys for p in parts]),
            np.concatenate([p.counts for p in parts]),
        )

    def merged(self, rows: np.ndarray | None = None) -> Sketch:
        """The sketch of the given rows (all when None); rows in ascending order."""
        if rows is None:
            keys, counts, zeros = self.keys, self.counts, int(self.zeros.sum())
        elif len(rows) and rows[-1] - rows[0] + 1 == len(rows):  # a contiguous run of rows: one slice
            a, b = self.offsets[rows[0]], self.offsets[rows[-1] + 1]
            keys, counts, zeros = self.keys[a:b], self.counts[a:b], int(self.zeros[rows].sum())
        else:
            part = self.take(rows)
            keys, counts, zeros = part.keys, part.counts, int(part.zeros.sum())
        return Sketch.of_bins(keys, counts, zeros)


@dataclass
class SketchScope:
    """One scope's seconds in the window, in time order (several workers' and statuses' points of
    one second are separate rows)."""

    t_ns: np.ndarray  # int64, each second's start
    count: np.ndarray  # int64
    failures: np.ndarray  # int64
    low: np.ndarray  # float64, exact min of the second
    high: np.ndarray  # float64, exact max
    bins: Bins
    scheduled: Bins | None = None  # arrival model: the latency from the scheduled start
    scheduled_count: np.ndarray | None = None
    scheduled_low: np.ndarray | None = None
    scheduled_high: np.ndarray | None = None

    @classmethod
    def joined(cls, parts: list[SketchScope]) -> SketchScope:
        order = np.argsort(np.concatenate([p.t_ns for p in parts]), kind="stable")

        def cat(field: str) -> np.ndarray:
            return np.concatenate([getattr(p, field) for p in parts])[order]

        scheduled = [p.scheduled for p in parts if p.scheduled is not None]
        joined = cls(
            cat("t_ns"),
            cat("count"),
            cat("failures"),
            cat("low"),
            cat("high"),
            Bins.joined([p.bins for p in parts]).take(order),
        )
        if len(scheduled) == len(parts):
            joined.scheduled = Bins.joined(scheduled).take(order)
            joined.scheduled_count = cat("scheduled_count")
            joined.scheduled_low, joined.scheduled_high = cat("scheduled_low"), cat("scheduled_high")
        return joined

    @property
    def requests(self) -> int:
        return int(self.count.sum())


def _percentiles(sketch: Sketch, low: float | None, high: float | None) -> dict[str, float | None]:
    return {name: sketch.percentile(p, low, high) for name, p in PERCENTILES.items()}


def stats_from_sketches(scope: SketchScope, duration_s: float, max_windows: int) -> dict[str, Any]:
    """Stats' fields for one scope, as ``estimate.stats_of`` gives them from raw points."""
    requests, failures = scope.requests, int(scope.failures.sum())
    present = scope.count > 0
    low = float(scope.low[present].min()) if present.any() else None
    high = float(scope.high[present].max()) if present.any() else None
    p = _percentiles(scope.bins.merged(), low, high)
    return dict(
        requests=requests,
        failures=failures,
        success_rate=100.0 * (requests - failures) / requests if requests else None,
        p50=p["p50"],
        p95=p["p95"],
        p99=p["p99"],
        max=high,
        rps=requests / duration_s if duration_s > 0 else 0.0,
        spread=_spread(scope, max_windows),
    )


def _spread(scope: SketchScope, max_windows: int) -> dict[str, Spread]:
    """The batch-means standard errors of ``estimate.spread``, with windows of whole seconds cut
    at (nearly) equal request counts."""
    n = scope.requests
    cumulative = np.cumsum(scope.count) - scope.count  # requests before each second
    out: dict[str, Spread] = {}
    for statistic, p in PERCENTILES.items():
        k = windows_for(statistic, n, max_windows)
        values = []
        for part in _windows(cumulative, n, k):
            value = scope.bins.merged(part).percentile(
                p, float(scope.low[part].min()), float(scope.high[part].max())
            )
            if value is not None:
                values.append(value)
        if len(values) >= MIN_WINDOWS:
            out[statistic] = _standard_error(values)
    k = windows_for("success_rate", n, max_windows)
    rates = [
        100.0 * (1.0 - scope.failures[part].sum() / scope.count[part].sum())
        for part in _windows(cumulative, n, k)
        if scope.count[part].sum()
    ]
    if len(rates) >= MIN_WINDOWS:
        out["success_rate"] = _standard_error(rates)
    return out


def _windows(cumulative: np.ndarray, n: int, k: int) -> list[np.ndarray]:
    if not k or not n:
        return []
    which = np.minimum((cumulative * k) // n, k - 1)
    return [idx for idx in (np.flatnonzero(which == j) for j in range(k)) if len(idx)]


def scheduled_latency(scope: SketchScope) -> Latency | None:
    if (
        scope.scheduled is None
        or scope.scheduled_count is None
        or scope.scheduled_low is None
        or scope.scheduled_high is None
    ):
        return None
    rows = np.flatnonzero(scope.scheduled_count > 0)
    if not len(rows):
        return None
    low, high = float(scope.scheduled_low[rows].min()), float(scope.scheduled_high[rows].max())
    p = _percentiles(scope.scheduled.merged(rows), low, high)
    return Latency(p50=p["p50"], p95=p["p95"], p99=p["p99"], max=high)


def slower_than(scope: SketchScope, limit: float) -> int:
    """Requests slower than ``limit`` ms: every request of a second whose min exceeds it, none of
    one whose max does not, else the buckets wholly above it. A request within the sketch's
    accuracy above the limit (in the limit's own bucket) is counted as not slower, so the count
    errs towards passing by at most that bucket."""
    return int(slower_by_row(scope, limit).sum())


def slower_by_row(scope: SketchScope, limit: float) -> np.ndarray:
    """``slower_than`` for each row (one worker's and status's second) of the scope, int64."""
    out = np.where(scope.low > limit, scope.count, 0).astype(np.int64)
    mixed = np.flatnonzero((scope.low <= limit) & (scope.high > limit))
    if len(mixed):
        part = scope.bins.take(mixed)
        rows = np.repeat(np.arange(len(mixed)), np.diff(part.offsets))
        above = part.keys > MAPPING.key(limit)
        out[mixed] = np.bincount(rows[above], weights=part.counts[above], minlength=len(mixed)).astype(
            np.int64
        )
    return out

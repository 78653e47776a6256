"""The stored quantile sketch of sketch mode (``--influx-points sketches``): a DDSketch with 1 %
relative accuracy, kept as numpy arrays of bucket keys and counts so a second's worth of values is
added, and hundreds of seconds are merged, in one vectorised call each.

The bucket mapping is ddsketch's own ``LogarithmicMapping`` (the library chosen in
docs/decisions.md): bucket k holds the values in (γ^(k-1), γ^k], γ = (1 + α) / (1 - α), and its
representative value is within α of every value in it. Percentiles use InfluxDB's nearest rank
(the verdict's definition for raw points), so a sketch percentile is the representative of the
bucket that holds the exact percentile: within ``RELATIVE_ACCURACY`` of it, whatever the data.
Values at or below the mapping's smallest positive value (0 ms: a refused connection) are counted
apart as zeros and reported as 0.

Stored text form (the ``sketch`` field): ``ZEROS;K:C,K:C,...`` with keys ascending, e.g.
``0;152:3,153:10``. Deterministic, so a replayed point is byte-identical.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from ddsketch.mapping import LogarithmicMapping

from harness.influx.datamodel import REQUEST_SKETCH, REQUEST_SKETCH_FLEET
from harness.influx.lineprotocol import escape_string_field

MEASUREMENT = REQUEST_SKETCH.name  # per process, series (endpoint, status) and second
FLEET_MEASUREMENT = REQUEST_SKETCH_FLEET.name  # the fleet's merged series, per endpoint and second
SECOND_NS = 1_000_000_000
RELATIVE_ACCURACY = 0.01  # the bound: every percentile within 1 % of the exact one
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
_MULTIPLIER = MAPPING._multiplier / math.log(2)  # key = ceil(ln(v) · this) + offset, as MAPPING.key(v)
_OFFSET = MAPPING._offset
_SMALLEST = MAPPING.min_possible
_EMPTY = np.zeros(0, dtype=np.int64)


def nearest_rank(n: int, percentile: float) -> int | None:
    """0-based index of InfluxDB's PERCENTILE (nearest rank) in n sorted values; None outside."""
    i = int(math.floor(n * percentile / 100.0 + 0.5)) - 1
    return i if 0 <= i < n else None


@dataclass(frozen=True)
class Sketch:
    keys: np.ndarray  # int64, ascending, unique
    counts: np.ndarray  # int64, > 0
    zeros: int = 0

    @property
    def count(self) -> int:
        return int(self.counts.sum()) + self.zeros

    @classmethod
    def empty(cls) -> Sketch:
        return cls(_EMPTY, _EMPTY, 0)

    @classmethod
    def of(cls, values: np.ndarray) -> Sketch:
        """The sketch of raw values (ms); NaN values are skipped."""
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        positive = values[values > _SMALLEST]
        zeros = len(values) - len(positive)
        if not len(positive):
            return cls(_EMPTY, _EMPTY, zeros)
        keys = (np.ceil(np.log(positive) * _MULTIPLIER) + _OFFSET).astype(np.int64)
        uniq, counts = np.unique(keys, return_counts=True)
        return cls(uniq, counts.astype(np.int64), zeros)

    @classmethod
    def merged(cls, sketches: list[Sketch]) -> Sketch:
        """One sketch of all the values the given ones hold (exact: bucket counts add)."""
        parts = [s for s in sketches if len(s.keys)]
        zeros = sum(s.zeros for s in sketches)
        if len(parts) == 1:
            return cls(parts[0].keys, parts[0].counts, zeros)
        return cls.of_bins(
            np.concatenate([s.keys for s in parts]) if parts else _EMPTY,
            np.concatenate([s.counts for s in parts]) if parts else _EMPTY,
            zeros,
        )

    @classmethod
    def of_bins(cls, keys: np.ndarray, counts: np.ndarray, zeros: int = 0) -> Sketch:
        """The sketch of bucket keys and counts in any order, keys repeated (many sketches' bins)."""
        if not len(keys):
            return cls(_EMPTY, _EMPTY, zeros)
        low = int(keys.min())
        dense = np.bincount(keys - low, weights=counts).astype(np.int64)
        present = np.nonzero(dense)[0]
        return cls(present.astype(np.int64) + low, dense[present], zeros)

    def percentile(
        self, percentile: float, low: float | None = None, high: float | None = None
    ) -> float | None:
        """The nearest-rank percentile, within RELATIVE_ACCURACY of the exact one; clamped to the
        exact ``low``/``high`` (min, max) when known, which only brings it closer."""
        i = nearest_rank(self.count, percentile)
        if i is None:
            return None
        if i < self.zeros:
            return 0.0
        position = int(np.searchsorted(np.cumsum(self.counts), i - self.zeros, side="right"))
        value = MAPPING.value(int(self.keys[position]))
        if low is not None:
            value = max(value, low)
        if high is not None:
            value = min(value, high)
        return float(value)

    def encode(self) -> str:
        return f"{self.zeros};" + ",".join(
            f"{k}:{c}" for k, c in zip(self.keys.tolist(), self.counts.tolist())
        )

    @classmethod
    def decode(cls, text: str) -> Sketch:
        zeros, _, bins = text.partition(";")
        if not bins:
            return cls(_EMPTY, _EMPTY, int(zeros or 0))
        flat = np.array(bins.replace(":", ",").split(","), dtype=np.int64)
        return cls(flat[0::2], flat[1::2], int(zeros or 0))


@dataclass
class Second:
    """Everything one series holds for one second; ``add`` folds in another part."""

    count: int = 0
    failures: int = 0
    sum: float = 0.0
    first: int = 0  # the earliest and latest request start in the second, ns (0: unknown)
    last: int = 0
    min: float = math.inf
    max: float = -math.inf
    sketch: Sketch = field(default_factory=Sketch.empty)
    scheduled: Second | None = None  # arrival model: the latency from the scheduled start
    errors: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, values: np.ndarray) -> Second:
        return cls(
            count=len(values),
            sum=float(values.sum()),
            min=float(values.min()),
            max=float(values.max()),
            sketch=Sketch.of(values),
        )

    def add(self, other: Second) -> None:
        self.first = (
            min(self.first, other.first) if self.count and other.first else (self.first or other.first)
        )
        self.last = max(self.last, other.last)
        self.count += other.count
        self.failures += other.failures
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.sketch = Sketch.merged([self.sketch, other.sketch])
        if other.scheduled is not None:
            if self.scheduled is None:
                self.scheduled = Second()
            self.scheduled.add(other.scheduled)
        for text, n in other.errors.items():
            self.errors[text] = self.errors.get(text, 0) + n

    def fields(self) -> str:
        """The field set of a ``request_sketch`` point (docs/data-model.md)."""
        out = (
            f"count={self.count}i,failures={self.failures}i,first={self.first}i,last={self.last}i,"
            f'sum={self.sum!r},min={self.min!r},max={self.max!r},sketch="{self.sketch.encode()}"'
        )
        s = self.scheduled
        if s is not None and s.count:
            out += (
                f",scheduled_count={s.count}i,scheduled_sum={s.sum!r},scheduled_min={s.min!r},"
                f'scheduled_max={s.max!r},scheduled_sketch="{s.sketch.encode()}"'
            )
        if self.errors:
            out += f',errors="{escape_string_field(json.dumps(self.errors, sort_keys=True))}"'
        return out

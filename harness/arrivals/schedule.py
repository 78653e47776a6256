"""When this worker's next arrival of one API is due: its exact share of the whole stream.

Pure arithmetic (no gevent, no clock): times are seconds since the epoch, the moment the
arrivals began, which the master (or local runner) decides once and sends to every worker.

A *split* says which workers serve the arrivals from a moment on. The first split starts at 0;
when a worker joins or leaves, the master appends one a little in the future, so every worker
switches at the same arrival.

- constant: arrival k of the whole stream is due at Λ⁻¹(k) (evenly spaced at a constant rate,
  following a ramp exactly). In a split of N workers starting at global arrival K, the worker
  with index i serves the arrivals K+i, K+i+N, …: worker i starts at offset i/rate and the
  combined stream is evenly interleaved, with no arrival served twice or by nobody.
- poisson: each worker draws its own Poisson stream at its share rate(t)/N (splitting a Poisson
  process gives independent Poisson processes); at a split it simply goes on at the new share,
  which the process's lack of memory makes exact.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from harness.arrivals.plan import RateCurve


@dataclass(frozen=True)
class Split:
    """From ``at_s`` (seconds since the epoch) on, ``workers`` share the arrivals, in this order."""

    at_s: float
    workers: tuple[str, ...]

    def to_wire(self) -> list:
        return [self.at_s, list(self.workers)]

    @classmethod
    def from_wire(cls, item) -> Split:
        return cls(float(item[0]), tuple(str(w) for w in item[1]))


class _Schedule:
    def __init__(self, curve: RateCurve, worker: str, splits: list[Split]):
        self.curve = curve
        self.worker = worker
        self._pending: float | None = None
        self._set(splits)

    def _set(self, splits: list[Split]) -> None:
        if not splits or splits[0].at_s != 0:
            splits = [Split(0.0, ())] + list(splits)
        self.splits = list(splits)
        # Λ at each split's start: the global arrival level where it takes over.
        self._levels = [self.curve.cumulative(s.at_s) for s in self.splits]

    def _member(self, j: int) -> tuple[int, int] | None:
        """(index, size) of this worker in split j, None when it has no share there."""
        workers = self.splits[j].workers
        return (workers.index(self.worker), len(workers)) if self.worker in workers else None

    def share_at(self, t: float) -> float:
        """This worker's arrivals per second at t (what ``target_per_s`` stores)."""
        j = max(0, bisect.bisect_right([s.at_s for s in self.splits], t) - 1)
        member = self._member(j)
        return self.curve.rate_at(t) / member[1] if member else 0.0

    def peek(self) -> float | None:
        """When this worker's next arrival is due (None: never, under the current splits)."""
        if self._pending is None:
            self._pending = self._next()
        return self._pending

    def advance(self) -> None:
        """The peeked arrival was handed over; the next peek computes the one after it."""
        self._consume()
        self._pending = None

    def _next(self) -> float | None:
        raise NotImplementedError

    def _consume(self) -> None:
        raise NotImplementedError


class ConstantSchedule(_Schedule):
    def __init__(self, curve: RateCurve, worker: str, splits: list[Split]):
        self._last = -1  # the last global arrival index this worker handed over
        self._next_index: int | None = None
        super().__init__(curve, worker, splits)

    def _set(self, splits: list[Split]) -> None:
        super()._set(splits)
        # The first global arrival index of each split: arrivals at or after its start.
        self._first = [0] + [math.ceil(level) for level in self._levels[1:]]

    def resplit(self, splits: list[Split], now_s: float) -> None:
        self._set(splits)
        self._pending = None

    def next_index(self) -> int | None:
        """The global index of this worker's next arrival (after the last handed over)."""
        k = self._last + 1
        j = max(0, bisect.bisect_right(self._first, k) - 1)
        while j < len(self.splits):
            end = self._first[j + 1] if j + 1 < len(self.splits) else math.inf
            member = self._member(j)
            if member is not None:
                index, size = member
                start = self._first[j]
                # the smallest k' ≥ k with (k' − start) mod size == index
                candidate = start + index + max(0, math.ceil((k - start - index) / size)) * size
                if candidate < end:
                    return candidate
            j += 1
            if j < len(self.splits):
                k = max(k, self._first[j])
        return None

    def _next(self) -> float | None:
        self._next_index = self.next_index()
        return None if self._next_index is None else self.curve.time_of(self._next_index)

    def _consume(self) -> None:
        if self._pending is None:
            self.peek()
        if self._next_index is not None:
            self._last = self._next_index


class PoissonSchedule(_Schedule):
    def __init__(self, curve: RateCurve, worker: str, splits: list[Split], rng: random.Random | None = None):
        self.rng = rng or random.Random()
        self._level = 0.0  # Λ at the last arrival handed over (or where drawing resumed)
        self._pending_level: float | None = None
        super().__init__(curve, worker, splits)

    def resplit(self, splits: list[Split], now_s: float) -> None:
        # No arrival came between the last one and now, and the process has no memory: drawing
        # afresh from now under the new splits is exact.
        self._set(splits)
        self._level = max(self._level, self.curve.cumulative(now_s))
        self._pending = self._pending_level = None

    def _next(self) -> float | None:
        need = self.rng.expovariate(1.0)  # in units of this worker's own expected arrivals
        level = self._level
        j = max(0, bisect.bisect_right(self._levels, level) - 1)
        while j < len(self.splits):
            end = self._levels[j + 1] if j + 1 < len(self.splits) else math.inf
            member = self._member(j)
            if member is not None:
                size = member[1]
                if math.isinf(end) or need <= (end - level) / size:
                    self._pending_level = level + need * size
                    return self.curve.time_of(self._pending_level)
                need -= (end - level) / size
            level = end
            j += 1
        return None

    def _consume(self) -> None:
        if self._pending is None:
            self.peek()
        if self._pending_level is not None:
            self._level = self._pending_level


def make_schedule(
    kind: str, curve: RateCurve, worker: str, splits: list[Split], rng: random.Random | None = None
) -> ConstantSchedule | PoissonSchedule:
    if kind == "poisson":
        return PoissonSchedule(curve, worker, splits, rng)
    return ConstantSchedule(curve, worker, splits)

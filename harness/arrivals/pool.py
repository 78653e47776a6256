"""Hand-over between the schedulers and the pool users of one process, and what it counts.

A due arrival goes to a pool user that is waiting for work; when every pool user is busy it
waits in a backlog (it is *late*), and the first user to come free takes the oldest one. An
arrival that waited longer than the bound (``--max-lateness``) is *dropped* and counted, so the
backlog never holds more than rate × bound arrivals.

One gevent hub, no threads: nothing here yields except a waiting user's ``get``, so the counters
need no lock. Threading rule: call only from greenlets of the Locust process that owns the pool.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gevent.event import AsyncResult


@dataclass(frozen=True)
class Arrival:
    api: str
    due: float  # wall-clock seconds (time.time()) when the iteration should start
    counted: bool = False  # already counted as started (handed back by a user that was stopped)


@dataclass
class IntervalCounts:
    """One API's counts over one interval (the ``arrivals`` point's fields)."""

    scheduled: int = 0  # arrivals that fell due
    started: int = 0  # iterations a pool user began
    late: int = 0  # of ``scheduled``: found no free pool user when due
    dropped: int = 0  # given up after waiting longer than the bound
    max_lag_ms: float = 0.0  # largest start − due (and wait of arrivals still in the backlog)


class ArrivalPool:
    def __init__(self, max_lateness_s: float, clock: Callable[[], float] = time.time):
        self.max_lateness_s = max_lateness_s
        self.clock = clock
        self._backlog: deque[Arrival] = deque()
        self._idle: deque[AsyncResult] = deque()  # one per pool user waiting for an arrival
        self.counts: dict[str, IntervalCounts] = {}
        self.busy = 0  # pool users inside an iteration (kept by the users themselves)
        self.closed = False

    def _counts(self, api: str) -> IntervalCounts:
        counts = self.counts.get(api)
        if counts is None:
            counts = self.counts[api] = IntervalCounts()
        return counts

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def reset(self, max_lateness_s: float | None = None) -> None:
        """A new test: nothing waiting, nothing counted."""
        if max_lateness_s is not None:
            self.max_lateness_s = max_lateness_s
        self._backlog.clear()
        self.counts = {}
        self.closed = False

    def close(self) -> None:
        """The test is stopping: arrivals still waiting are abandoned (neither started nor dropped)."""
        self.closed = True
        self._backlog.clear()

    def put(self, arrival: Arrival) -> bool:
        """A scheduler's arrival fell due; True when a free pool user took it at once."""
        if self.closed:
            return False
        counts = self._counts(arrival.api)
        counts.scheduled += 1
        if self._idle:
            self._started(counts, arrival, self.clock())
            self._idle.popleft().set(arrival)
            return True
        counts.late += 1
        self._backlog.append(arrival)
        return False

    def take(self) -> Arrival:
        """The next arrival for a pool user; blocks while there is none."""
        now = self.clock()
        backlog = self._backlog
        while backlog:
            arrival = backlog.popleft()
            counts = self._counts(arrival.api)
            if now - arrival.due > self.max_lateness_s:
                counts.dropped += 1
                continue
            self._started(counts, arrival, now)
            return arrival
        waiter: AsyncResult[Arrival] = AsyncResult()
        self._idle.append(waiter)
        try:
            handed = waiter.get()
        except BaseException:  # the user was stopped while waiting (GreenletExit)
            if not waiter.ready():
                self._idle.remove(waiter)
            elif (
                waiter.successful() and waiter.value is not None
            ):  # ... just after it was handed an arrival: not lost
                self.give_back(waiter.value)
            raise
        assert handed is not None  # get() without a timeout returns what was set: an Arrival
        return handed

    def give_back(self, arrival: Arrival) -> None:
        """An arrival a stopped pool user took but never began: the next free user takes it."""
        if self.closed:
            return
        arrival = Arrival(arrival.api, arrival.due, counted=True)
        if self._idle:
            self._idle.popleft().set(arrival)
        else:
            self._backlog.appendleft(arrival)

    def _started(self, counts: IntervalCounts, arrival: Arrival, now: float) -> None:
        if arrival.counted:
            return
        counts.started += 1
        lag_ms = (now - arrival.due) * 1000.0
        if lag_ms > counts.max_lag_ms:
            counts.max_lag_ms = lag_ms

    def drop_expired(self) -> int:
        """Drop backlog arrivals past the bound (the backlog is in due order); returns how many.

        Called every interval, so a pool stuck for longer than the bound still counts its drops
        when they happen, not only when a user comes free."""
        now, dropped = self.clock(), 0
        backlog = self._backlog
        while backlog and now - backlog[0].due > self.max_lateness_s:
            self._counts(backlog.popleft().api).dropped += 1
            dropped += 1
        return dropped

    def take_interval(self, apis: list[str]) -> dict[str, IntervalCounts]:
        """Every API's counts since the last call (zeros included), and start afresh."""
        self.drop_expired()
        now = self.clock()
        oldest: dict[str, float] = {}
        for arrival in self._backlog:  # still waiting: their wait so far is lag too
            oldest.setdefault(arrival.api, arrival.due)
        taken, self.counts = self.counts, {}
        out = {}
        for api in apis:
            counts = taken.get(api) or IntervalCounts()
            if api in oldest:
                counts.max_lag_ms = max(counts.max_lag_ms, (now - oldest[api]) * 1000.0)
            out[api] = counts
        return out

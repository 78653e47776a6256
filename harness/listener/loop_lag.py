"""Event-loop lag of this Locust process: a greenlet sleeps a fixed interval and measures how
late it wakes. A busy loop delays every timer — arrivals, think times and the timing of
requests — so a lagging load generator, not the target, can be what a run measured."""

from __future__ import annotations

import time

import gevent

INTERVAL_S = 0.1


class LoopLag:
    def __init__(self, interval_s: float = INTERVAL_S):
        self.interval_s = interval_s
        self._max_ms = 0.0

    def run(self) -> None:
        while True:
            before = time.perf_counter()
            gevent.sleep(self.interval_s)
            lag_ms = (time.perf_counter() - before - self.interval_s) * 1000.0
            if lag_ms > self._max_ms:
                self._max_ms = lag_ms

    def take(self) -> float:
        """The largest lag (ms) since the last call."""
        worst, self._max_ms = self._max_ms, 0.0
        return max(worst, 0.0)

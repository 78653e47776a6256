"""The arrival model's pool user: pre-allocated (``--users`` of them, signed in when spawned),
it serves whatever arrival is due next, of any API, and waits for work in between.

It waits inside ``wait_time``, where Locust may stop it at once; an iteration in progress ends
gracefully (``--stop-timeout``), as a users-model task does."""

from __future__ import annotations

import time

import gevent
from locust import task

from harness.arrivals.runtime import arrivals_of
from harness.scenarios.base import ApiUser
from harness.scenarios.iterations import ITERATIONS


class ArrivalUser(ApiUser):
    # Chosen instead of the users-model classes when a rate is given (harness/locustfile.py).
    weight = 1
    _arrival = None
    _lateness_ms: float | None = None

    def on_start(self) -> None:
        self._iterations: dict[str, int] = {}
        super().on_start()

    def wait_time(self) -> float:
        runtime = arrivals_of(self.environment)
        while runtime is None:  # spawned by a spawn message that came before init (a late-joining worker)
            gevent.sleep(0.05)
            runtime = arrivals_of(self.environment)
        self._arrival = runtime.pool.take()
        return 0.0

    def on_stop(self) -> None:
        # Stopped between taking an arrival and beginning it (a rebalance moves pool users
        # between workers): hand it back rather than lose it.
        runtime = arrivals_of(self.environment)
        if self._arrival is not None and runtime is not None:  # an arrival came from the runtime
            runtime.pool.give_back(self._arrival)
            self._arrival = None

    def context(self) -> dict:
        # Every request of an iteration carries its lateness; the listener stores
        # scheduled_response_time = response_time + lateness_ms.
        return {"lateness_ms": self._lateness_ms} if self._lateness_ms is not None else {}

    @task
    def serve(self) -> None:
        arrival, self._arrival = self._arrival, None
        if arrival is None:  # the first task runs before the first wait
            return
        runtime = arrivals_of(self.environment)
        assert runtime is not None  # the arrival came from it (wait_time)
        pool = runtime.pool
        self._lateness_ms = max(0.0, (time.time() - arrival.due) * 1000.0)
        number = self._iterations[arrival.api] = self._iterations.get(arrival.api, 0) + 1
        pool.busy += 1
        try:
            ITERATIONS[arrival.api](self, number)
        finally:
            pool.busy -= 1
            self._lateness_ms = None

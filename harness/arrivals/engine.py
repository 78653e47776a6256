"""This process's arrivals for one test: one scheduler greenlet per API, feeding the pool.

Each scheduler sleeps until its next arrival is due (wall clock: the epoch is shared with the
other processes), hands it to the pool and computes the next. A new split wakes it, so an
arrival it was waiting for under the old split is recomputed under the new one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import gevent
from gevent.event import Event

from harness.arrivals.plan import LoadPlan
from harness.arrivals.pool import Arrival, ArrivalPool
from harness.arrivals.schedule import Split, make_schedule

log = logging.getLogger("harness.arrivals")

# Arrivals handed over in a row without sleeping (the loop fell behind, e.g. after a stall)
# before the scheduler yields once, so pool users and the listener are not starved meanwhile.
CATCH_UP_BATCH = 64


class ArrivalEngine:
    def __init__(
        self,
        plan: LoadPlan,
        worker: str,
        pool: ArrivalPool,
        epoch: float,
        splits: list[Split],
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ):
        self.plan = plan
        self.worker = worker
        self.pool = pool
        self.epoch = epoch
        self.clock = clock
        rng = random.Random(seed)
        self.schedules = {
            api: make_schedule(plan.arrivals, plan.curve(api), worker, splits, random.Random(rng.random()))
            for api in plan.apis
        }
        self._wake = {api: Event() for api in plan.apis}
        self._greenlets: list[gevent.Greenlet] = []

    def start(self) -> None:
        self._greenlets = [gevent.spawn(self._run, api) for api in self.schedules]

    def stop(self) -> None:
        gevent.killall(self._greenlets, block=True)
        self._greenlets = []

    @property
    def running(self) -> bool:
        return any(not g.dead for g in self._greenlets)

    def resplit(self, splits: list[Split]) -> None:
        now_s = self.clock() - self.epoch
        for api, schedule in self.schedules.items():
            schedule.resplit(splits, now_s)
            self._wake[api].set()

    def shares(self) -> dict[str, float]:
        """This worker's share of each API's rate now (arrivals per second)."""
        now_s = self.clock() - self.epoch
        return {api: schedule.share_at(now_s) for api, schedule in self.schedules.items()}

    def _run(self, api: str) -> None:
        schedule, wake, pool = self.schedules[api], self._wake[api], self.pool
        behind = 0
        while True:
            due_s = schedule.peek()
            if due_s is None:  # no share under the current splits: wait for a new one
                wake.wait()
                wake.clear()
                continue
            due = self.epoch + due_s
            delay = due - self.clock()
            if delay > 0:
                behind = 0
                if wake.wait(delay):
                    wake.clear()  # a new split: recompute this arrival under it
                continue  # look again: handed over only once the clock says it is due, never before
            else:
                behind += 1
                if behind >= CATCH_UP_BATCH:  # catching up after a stall: let the users run too
                    behind = 0
                    gevent.sleep(0)
                    continue
            schedule.advance()
            pool.put(Arrival(api, due))

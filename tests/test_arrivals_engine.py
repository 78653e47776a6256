"""The schedulers (gevent, no Locust): two workers' engines offer the whole rate between them, a
re-split moves the share at once, and catching up never starves the pool users. The engines run
on an injected clock the test moves, so the counts are exact on any machine; one test (slow)
runs them on the wall clock."""

from __future__ import annotations

import time

import gevent
import pytest

from harness.arrivals.engine import CATCH_UP_BATCH, ArrivalEngine
from harness.arrivals.plan import LoadPlan
from harness.arrivals.pool import ArrivalPool
from harness.arrivals.schedule import Split


def _consume(pool: ArrivalPool, taken: list) -> None:
    while True:
        taken.append(pool.take())


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _consume_noting_when(pool: ArrivalPool, taken: list, clock: Clock) -> None:
    while True:
        arrival = pool.take()
        taken.append((arrival, clock.now))


def _until(condition, what: str, timeout_s: float = 10.0) -> None:
    """Let the greenlets run until ``condition`` holds (the bound only guards against a hang)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        gevent.sleep(0.005)


def test_two_engines_split_the_rate_and_a_resplit_moves_it_by_their_clock():
    clock = Clock(1_000_000.0)
    epoch = clock.now
    plan = LoadPlan(rates={"payments": 100})
    pools = {w: ArrivalPool(5, clock=clock) for w in "ab"}
    taken: dict[str, list] = {w: [] for w in "ab"}
    splits = [Split(0.0, ("a", "b"))]
    engines = {w: ArrivalEngine(plan, w, pools[w], epoch, splits, clock=clock) for w in "ab"}
    users = [gevent.spawn(_consume_noting_when, pools[w], taken[w], clock) for w in "ab" for _ in range(3)]
    for engine in engines.values():
        engine.start()
    clock.now = epoch + 1.0
    # Arrivals 0, 0.01, ..., 1.0 s: a takes the even ones, b the odd ones.
    _until(lambda: (len(taken["a"]), len(taken["b"])) == (51, 50), f"first second: {taken}")
    assert engines["a"].shares() == {"payments": 50} == engines["b"].shares()
    clock.now = epoch + 1.05
    for engine in engines.values():
        engine.resplit([Split(0.0, ("a", "b")), Split(1.05, ("a",))])  # b leaves at 1.05 s
    clock.now = epoch + 2.05
    # a: 1.02 and 1.04 under the old split, then every arrival from 1.05 to 2.05 s; b: 1.01 and 1.03.
    _until(lambda: len(taken["a"]) == 51 + 2 + 101, f"after the re-split: {len(taken['a'])}")
    gevent.sleep(0.05)  # time for a wrong hand-over to show: the clock stands still, so none is due
    for engine in engines.values():
        engine.stop()
    gevent.killall(users)
    assert (len(taken["a"]), len(taken["b"])) == (154, 52)
    assert engines["a"].shares() == {"payments": 100} and engines["b"].shares() == {"payments": 0}
    handed = [pair for w in "ab" for pair in taken[w]]
    assert all(arrival.due <= at for arrival, at in handed)  # never handed over before it was due
    dues = sorted(round(arrival.due - epoch, 6) for arrival, _ in handed)
    assert len(set(dues)) == len(dues)  # no arrival served twice


@pytest.mark.slow  # the same on the wall clock: gevent's timers drive the engines
def test_two_engines_split_the_rate_and_a_resplit_moves_it():
    plan = LoadPlan(rates={"payments": 100})
    epoch = time.time() + 0.05
    splits = [Split(0.0, ("a", "b"))]
    pools = {w: ArrivalPool(5) for w in "ab"}
    taken = {w: [] for w in "ab"}
    engines = {w: ArrivalEngine(plan, w, pools[w], epoch, splits) for w in "ab"}
    users = [gevent.spawn(_consume, pools[w], taken[w]) for w in "ab" for _ in range(3)]
    for engine in engines.values():
        engine.start()
    gevent.sleep(epoch + 1.0 - time.time())
    counts = {w: len(t) for w, t in taken.items()}
    assert all(49 <= c <= 51 for c in counts.values()), counts  # 100 due in the first second
    assert engines["a"].shares() == {"payments": 50}
    moved = [Split(0.0, ("a", "b")), Split(time.time() - epoch + 0.05, ("a",))]  # b leaves
    for engine in engines.values():
        engine.resplit(moved)
    gevent.sleep(1.0)
    for engine in engines.values():
        engine.stop()
    gevent.killall(users)
    assert 97 <= len(taken["a"]) - counts["a"] + len(taken["b"]) - counts["b"] <= 103
    assert len(taken["b"]) - counts["b"] <= 6  # only what was due before the switch
    assert engines["a"].shares() == {"payments": 100} and engines["b"].shares() == {"payments": 0}
    lates = [time.time() - a.due for a in taken["a"][-20:]]
    assert all(lag >= -0.001 for lag in lates)  # never handed over before it was due


def test_catching_up_after_a_stall_lets_the_users_run_in_between():
    clock = Clock(1_000_000.0)
    pool = ArrivalPool(max_lateness_s=60, clock=clock)
    plan = LoadPlan(rates={"auth": 1000})
    engine = ArrivalEngine(plan, "w", pool, clock.now - 2.0, [Split(0.0, ("w",))], clock=clock)  # 2,001 due
    taken: list = []
    user = gevent.spawn(_consume, pool, taken)
    engine.start()
    gevent.sleep(0)
    gevent.sleep(0)
    assert 0 < pool.backlog + len(taken) <= 2 * CATCH_UP_BATCH + 1  # handed over in batches, not all at once
    _until(lambda: len(taken) >= 2001, f"caught up {len(taken)} of 2,001")
    gevent.sleep(0.05)
    engine.stop()
    user.kill()
    assert len(taken) == 2001 and pool.counts["auth"].dropped == 0

"""The schedulers in real time (gevent, no Locust): two workers' engines offer the whole rate
between them, a re-split moves the share at once, and catching up never starves the pool users."""

from __future__ import annotations

import time

import gevent

from harness.arrivals.engine import CATCH_UP_BATCH, ArrivalEngine
from harness.arrivals.plan import LoadPlan
from harness.arrivals.pool import ArrivalPool
from harness.arrivals.schedule import Split


def _consume(pool: ArrivalPool, taken: list) -> None:
    while True:
        taken.append(pool.take())


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
    pool = ArrivalPool(max_lateness_s=60)
    plan = LoadPlan(rates={"auth": 1000})
    engine = ArrivalEngine(plan, "w", pool, time.time() - 2.0, [Split(0.0, ("w",))])  # 2,000 already due
    taken: list = []
    user = gevent.spawn(_consume, pool, taken)
    engine.start()
    gevent.sleep(0)
    gevent.sleep(0)
    assert 0 < pool.backlog + len(taken) <= 2 * CATCH_UP_BATCH + 1  # handed over in batches, not all at once
    gevent.sleep(0.2)
    engine.stop()
    user.kill()
    assert len(taken) >= 2000

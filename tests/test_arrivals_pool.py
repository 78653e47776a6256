"""The hand-over between schedulers and pool users: an arrival with no free user is late, one
that waited past the bound is dropped, and every interval's counts add up."""

from __future__ import annotations

import gevent

from harness.arrivals.pool import Arrival, ArrivalPool


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_free_user_takes_an_arrival_at_once():
    clock = Clock()
    pool = ArrivalPool(max_lateness_s=5, clock=clock)
    taken = []
    user = gevent.spawn(lambda: taken.append(pool.take()))
    gevent.sleep(0)
    assert pool.idle == 1
    clock.now += 0.002
    assert pool.put(Arrival("generation", 1000.0)) is True
    user.join(timeout=1)
    assert taken == [Arrival("generation", 1000.0)]
    counts = pool.take_interval(["generation"])["generation"]
    assert (counts.scheduled, counts.started, counts.late, counts.dropped) == (1, 1, 0, 0)
    assert 1.9 < counts.max_lag_ms < 2.1


def test_busy_pool_makes_arrivals_late_and_drops_those_past_the_bound():
    clock = Clock()
    pool = ArrivalPool(max_lateness_s=2, clock=clock)
    for i in range(5):  # nobody waiting: all five are late
        assert pool.put(Arrival("payments", clock.now + i * 0.5)) is False
    assert pool.backlog == 5
    clock.now += 3.2  # the first three (due 1000, 1000.5, 1001) have waited more than 2 s
    arrival = pool.take()
    assert arrival.due == 1001.5
    counts = pool.take_interval(["payments", "auth"])
    assert (
        counts["payments"].scheduled,
        counts["payments"].late,
        counts["payments"].dropped,
        counts["payments"].started,
    ) == (5, 5, 3, 1)
    # the lag of the one still waiting (due 1002, now 1003.2) counts too
    assert abs(counts["payments"].max_lag_ms - 1700) < 1e-6
    assert counts["auth"].scheduled == 0  # an API with a rate gets a point even when all is 0
    assert pool.take_interval(["payments"])["payments"].scheduled == 0  # counts start afresh


def test_expired_arrivals_are_dropped_each_interval_even_while_every_user_is_stuck():
    clock = Clock()
    pool = ArrivalPool(max_lateness_s=1, clock=clock)
    for i in range(10):
        pool.put(Arrival("generation", clock.now + i * 0.1))
    clock.now += 1.55  # due ≤ 1000.55 have waited more than 1 s
    assert pool.take_interval(["generation"])["generation"].dropped == 6
    assert pool.backlog == 4


def test_a_user_stopped_just_after_it_was_handed_an_arrival_gives_it_back():
    pool = ArrivalPool(max_lateness_s=5)
    stopped = gevent.spawn(pool.take)
    gevent.sleep(0)
    stopped.kill(block=False)  # Locust stops the user ...
    assert pool.put(Arrival("generation", pool.clock())) is True  # ... as the arrival is handed to it
    stopped.join()
    assert pool.backlog == 1 and pool.idle == 0
    again = pool.take()
    assert again.api == "generation" and again.counted
    assert pool.take_interval(["generation"])["generation"].started == 1  # counted once


def test_close_abandons_waiting_arrivals_and_reset_starts_a_new_test():
    pool = ArrivalPool(max_lateness_s=5)
    pool.put(Arrival("auth", pool.clock()))
    pool.close()
    assert pool.backlog == 0 and pool.put(Arrival("auth", pool.clock())) is False
    pool.reset(max_lateness_s=7)
    assert pool.max_lateness_s == 7 and pool.counts == {} and not pool.closed

"""The exact split: N workers' schedules together are exactly the whole stream, evenly
interleaved, from the first arrival on and across re-splits when workers join or leave."""

from __future__ import annotations

import random
import statistics

import pytest

from harness.arrivals.plan import RateCurve
from harness.arrivals.schedule import ConstantSchedule, PoissonSchedule, Split


def arrivals_until(schedule, end_s: float) -> list[float]:
    times = []
    while (t := schedule.peek()) is not None and t < end_s:
        times.append(t)
        schedule.advance()
    return times


def test_one_worker_constant_spacing():
    times = arrivals_until(ConstantSchedule(RateCurve.constant(10), "w", [Split(0, ("w",))]), 60)
    assert len(times) == 600
    assert max(abs(b - a - 0.1) for a, b in zip(times, times[1:])) < 1e-9


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_n_workers_share_exactly_and_interleave_evenly(workers):
    ids = tuple(f"w{i}" for i in range(workers))
    per_worker = {
        w: arrivals_until(ConstantSchedule(RateCurve.constant(10), w, [Split(0, ids)]), 60) for w in ids
    }
    # worker i starts at offset i/rate, then every N/rate
    for i, w in enumerate(ids):
        assert per_worker[w][0] == pytest.approx(i / 10)
        gaps = {round(b - a, 9) for a, b in zip(per_worker[w], per_worker[w][1:])}
        assert gaps == {round(workers / 10, 9)}
    combined = sorted(t for ts in per_worker.values() for t in ts)
    assert len(combined) == 600  # nothing doubled, nothing missing
    assert max(abs(b - a - 0.1) for a, b in zip(combined, combined[1:])) < 1e-9
    # share_at is what each worker stores as target_per_s: they add up to the rate
    assert sum(
        ConstantSchedule(RateCurve.constant(10), w, [Split(0, ids)]).share_at(5) for w in ids
    ) == pytest.approx(10)


def test_a_ramp_is_followed_exactly_by_the_combined_stream():
    curve = RateCurve([(60, 0, 10), (60, 10, 10)])  # 0 → 10/s over a minute, then hold
    ids = ("a", "b")
    combined = sorted(
        t for w in ids for t in arrivals_until(ConstantSchedule(curve, w, [Split(0, ids)]), 120)
    )
    for start in range(0, 120, 10):
        in_window = sum(1 for t in combined if start <= t < start + 10)
        expected = curve.cumulative(start + 10) - curve.cumulative(start)
        assert abs(in_window - expected) <= 1, (start, in_window, expected)


def test_resplit_on_join_and_leave_keeps_the_stream_whole():
    curve = RateCurve.constant(20)
    # a and b from the start; c joins at 10.3 s; a leaves at 25.05 s
    splits = [Split(0, ("a", "b")), Split(10.3, ("a", "b", "c")), Split(25.05, ("b", "c"))]
    per_worker = {w: arrivals_until(ConstantSchedule(curve, w, splits), 40) for w in "abc"}
    combined = sorted(t for ts in per_worker.values() for t in ts)
    assert len(combined) == 800 and len(set(combined)) == 800
    assert max(b - a for a, b in zip(combined, combined[1:])) == pytest.approx(0.05)
    assert not [t for t in per_worker["c"] if t < 10.3] and not [t for t in per_worker["a"] if t >= 25.05]
    # between the splits each worker serves a third
    assert sum(1 for t in per_worker["c"] if 11 <= t < 24) == pytest.approx(13 * 20 / 3, abs=1)


def test_resplit_received_while_waiting_recomputes_the_pending_arrival():
    curve = RateCurve.constant(10)
    schedule = ConstantSchedule(curve, "b", [Split(0, ("a", "b"))])
    assert arrivals_until(schedule, 1.0) == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert schedule.peek() == pytest.approx(1.1)
    schedule.resplit([Split(0, ("a", "b")), Split(1.25, ("b",))], now_s=1.0)  # a left
    assert arrivals_until(schedule, 2.0) == pytest.approx([1.1, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9])


def test_a_worker_not_in_the_split_waits():
    schedule = ConstantSchedule(RateCurve.constant(10), "late", [Split(0, ("a",))])
    assert schedule.peek() is None and schedule.share_at(3) == 0


def test_poisson_gaps_are_exponential_and_the_split_adds_up():
    rng = random.Random(7)
    ids = ("a", "b")
    per_worker = {
        w: arrivals_until(PoissonSchedule(RateCurve.constant(50), w, [Split(0, ids)], rng), 200) for w in ids
    }
    for times in per_worker.values():  # each worker: Poisson at 25/s
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert statistics.mean(gaps) == pytest.approx(1 / 25, rel=0.05)
        assert statistics.stdev(gaps) == pytest.approx(1 / 25, rel=0.08)  # exponential: sd = mean
    total = sum(len(ts) for ts in per_worker.values())
    assert total == pytest.approx(50 * 200, rel=0.03)  # 10,000 expected, sd 100


def test_poisson_resplit_changes_the_share_from_the_switch_on():
    rng = random.Random(3)
    schedule = PoissonSchedule(RateCurve.constant(40), "a", [Split(0, ("a", "b"))], rng)
    first = arrivals_until(schedule, 100)
    schedule.resplit([Split(0, ("a", "b")), Split(100, ("a",))], now_s=100)
    second = list(arrivals_until(schedule, 200))
    assert len(first) == pytest.approx(2000, rel=0.06) and len(second) == pytest.approx(4000, rel=0.05)
    assert min(second) >= 100

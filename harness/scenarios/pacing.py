"""Spread a total generation target (generations/s across all users and workers) over the
GenerationUsers of the whole test, like Locust's ``constant_throughput`` but for the whole test.

Every process must use the same total from the first user on: a worker that paced itself to the
users it has seen so far would offer a multiple of the target while spawning, and every user's
interval would jump once the last one arrived. So the master (or local runner) works out, before
it dispatches a single user, how many GenerationUsers the target user count gives — as Locust's
dispatcher assigns users to classes by weight — and puts it in the parsed options, which Locust
sends to every worker with each spawn message (also when the user count changes in the web UI).
"""

from __future__ import annotations

import time
from collections import Counter

OPTION = "harness_generation_users"


def expected_class_counts(user_classes, user_count: int) -> dict[str, int]:
    """Users per class name once ``user_count`` users are dispatched."""
    counts: Counter[str] = Counter()
    remaining = user_count
    for cls in user_classes:  # Locust dispatches fixed_count users first
        if getattr(cls, "fixed_count", 0):
            counts[cls.__name__] = taken = min(cls.fixed_count, remaining)
            remaining -= taken
    weighted = [
        (cls.__name__, cls.weight)
        for cls in user_classes
        if not getattr(cls, "fixed_count", 0) and cls.weight > 0
    ]
    if remaining <= 0 or not weighted:
        return dict(counts)
    try:
        # The dispatcher's own order of classes (Kullback-Leibler), so the counts are exactly Locust's.
        from locust.dispatch import _kl_generator
    except ImportError:  # a Locust without it: proportional shares, largest remainder first
        total = sum(w for _, w in weighted)
        shares = {name: remaining * w / total for name, w in weighted}
        for name, share in shares.items():
            counts[name] += int(share)
        left = remaining - sum(int(s) for s in shares.values())
        for name in sorted(shares, key=lambda n: shares[n] - int(shares[n]), reverse=True)[:left]:
            counts[name] += 1
        return dict(counts)
    generator = _kl_generator(weighted)
    for _ in range(remaining):
        name = next(generator)
        assert name is not None  # it yields None only for no class of weight above 0
        counts[name] += 1
    return dict(counts)


def set_total(options, user_classes, user_count: int, class_name: str = "GenerationUser") -> None:
    """Before a dispatch: the test's total of ``class_name`` users, for every process to pace by."""
    if options is not None:
        setattr(options, OPTION, int(expected_class_counts(user_classes, user_count).get(class_name, 0)))


def total_generation_users(environment, class_name: str) -> int:
    options = environment.parsed_options
    total = getattr(options, OPTION, None) if options is not None else None
    if total:
        return max(1, int(total))
    # A runner started without the harness's start hook (a library user's own Environment).
    counts = getattr(environment.runner, "user_classes_count", None) or {}
    return max(1, int(counts.get(class_name, 0)))


def paced_wait(user, target_per_s: float) -> float:
    """Seconds to wait so this user's share of the target is met; 0 when behind."""
    if target_per_s <= 0:
        return 0.0
    interval = total_generation_users(user.environment, type(user).__name__) / target_per_s
    now = time.monotonic()
    last = getattr(user, "_paced_last", now)  # when the iteration that just ended began
    wait = max(0.0, interval - (now - last))
    user._paced_last = now + wait
    return wait

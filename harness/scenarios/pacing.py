"""Spread a total generation target (generations/s across all users and workers) over the
GenerationUsers that exist, like Locust's ``constant_throughput`` but for the whole test.

A local runner knows every user; a worker knows only its own, so the master sends the total
count with a custom message whenever spawning completes."""

from __future__ import annotations

import time

MESSAGE = "harness_generation_users"

_total_from_master: dict[str, int] = {}


def on_master_message(msg, **_kwargs) -> None:
    _total_from_master["count"] = int(msg.data)


def total_generation_users(environment, class_name: str) -> int:
    if "count" in _total_from_master:
        return max(1, _total_from_master["count"])
    runner = environment.runner
    counts = getattr(runner, "user_classes_count", None) or {}
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

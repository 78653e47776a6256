"""Holm's step-down levels for a family of one-sided tests. Pure.

Bonferroni tests every statistic at alpha / m; Holm tests the smallest p-value at alpha / m, the next
at alpha / (m - 1), … and stops at the first that is not rejected. It keeps the same family-wise bound
(the chance that any true null is rejected stays ≤ alpha) and rejects at least as much.
"""

from __future__ import annotations

import math


def holm_levels(p_values: list[float], alpha: float) -> list[float]:
    """Per test, the one-sided level its interval is drawn at, in the order given: a rejected test
    gets the level it was rejected at (alpha / (m - rank)); every test from the first that is not
    rejected on gets that test's level, at which none of them is rejected. A test is rejected exactly
    when its p-value is at most its level, so intervals drawn at these levels agree with the
    decisions."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    levels = [math.nan] * m
    stopped: float | None = None
    for rank, i in enumerate(order):
        level = alpha / (m - rank)
        if stopped is None and p_values[i] > level:
            stopped = level
        levels[i] = level if stopped is None else stopped
    return levels

"""How the verdict compares and shows numbers, shared by its checks."""

from __future__ import annotations

import math


# A limit met to within float rounding counts as met: 0.95 × 10 must accept 9.5.
def at_most(observed: float, limit: float) -> bool:
    return observed <= limit or math.isclose(observed, limit, rel_tol=1e-9, abs_tol=1e-9)


def at_least(observed: float, limit: float) -> bool:
    return observed >= limit or math.isclose(observed, limit, rel_tol=1e-9, abs_tol=1e-9)


def num(value: float, places: int = 2) -> str:
    """A number with at most ``places`` decimals and no trailing zeros: 9.5, 10, 94.99."""
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

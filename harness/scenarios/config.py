"""Scenario knobs, read from the environment once at import (Locust reads class weights then)."""

from __future__ import annotations

import os

from harness.errors import HarnessError
from harness.settings import from_environment


def _number(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HarnessError(f"{name}: {raw!r} is not a number") from None
    if value < minimum:
        raise HarnessError(f"{name}: {raw!r} is below {minimum:g}")
    return value


AUTH_WEIGHT = int(_number("AUTH_USER_WEIGHT", 1))
GENERATION_WEIGHT = int(_number("GENERATION_USER_WEIGHT", 2))
PAYMENT_WEIGHT = int(_number("PAYMENT_USER_WEIGHT", 1))
GENERATION_TARGET_PER_S = from_environment("GENERATION_TARGET_PER_S")  # a harness setting (harness.settings)
POLL_INTERVAL_S = _number("GENERATION_POLL_INTERVAL_S", 0.2, 0.01)
MAX_POLLS = int(_number("GENERATION_MAX_POLLS", 100, 1))
SEED_MANIFEST = os.environ.get("SEED_MANIFEST", "")

"""Number and time formatting shared by the report's page, charts and tables."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal


def num(value: float | None, places: int = 2) -> str:
    """A number for reading: fixed places, trailing zeros dropped; "—" for no value."""
    if value is None or not math.isfinite(value):
        return "—"
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def rate(value: float | None) -> str:
    """A success rate in percent, rounded down: a run with any failure never reads as 100."""
    if value is None:
        return "—"
    return str(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def elapsed(seconds: float) -> str:
    """Seconds since the run's start as an axis label: 45s, 2m, 1m30s, 1h5m."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m}m{rest}s" if rest else f"{m}m"
    h, rest = divmod(s, 3600)
    return f"{h}h{rest // 60}m" if rest // 60 else f"{h}h"


def utc_ns(ns: int) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2024-05-01T12:00:03.250Z."""
    moment = datetime.fromtimestamp(ns / 1e9, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def finite(value: float | None) -> float | None:
    # JSON and CSV readers choke on NaN and infinity; an unmeasurable number is empty.
    if value is None or not math.isfinite(value):
        return None
    return value

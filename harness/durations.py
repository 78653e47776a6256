"""Durations as Locust and the harness write them: 90 (seconds), 30s, 5m, 1h30m."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", re.IGNORECASE)


def parse_duration_s(text: str) -> int | None:
    """Whole seconds, or None when ``text`` is not a duration (the caller says why in its words)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        return None
    hours, minutes, secs = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + secs

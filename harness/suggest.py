"""Typo suggestions for every "unknown key" error (settings, thresholds, endpoints).

A leaf module: it imports nothing from the harness, so any layer may use it.
"""

from __future__ import annotations

import difflib


def closest_match(word: str, choices: list[str]) -> str | None:
    """The choice ``word`` is most likely a typo of, or None.

    difflib finds the candidates; among equally close ones a swap of two letters wins
    (max_p59_ms is max_p95_ms, not max_p99_ms), the most common slip when typing.
    """
    candidates = difflib.get_close_matches(word, choices, n=3)
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda c: (-round(difflib.SequenceMatcher(None, word, c).ratio(), 6), sorted(c) != sorted(word)),
    )

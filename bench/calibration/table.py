"""The calibration table's row, its 95 % interval and its printing: shared by every decision's
scenarios so that every rate in the table is stated the same way (count, repetitions, interval)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One scenario of one decision. ``kind`` is ``fp`` (a null scenario: ``hits`` are false
    positives, judged against ``nominal``) or ``power`` (an effect scenario: ``hits`` are detections)."""

    decision: str  # e.g. "abort: success rate", "regression: p95"
    scenario: str  # what the data was, in a user's words: "99.5 % vs 99 % limit, 2/s, 30 min"
    kind: str  # "fp" or "power"
    hits: int
    reps: int
    nominal: float | None = None  # the stated false-positive level (fp rows)

    @property
    def rate(self) -> float:
        return self.hits / self.reps if self.reps else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.reps)

    @property
    def exceeds_nominal(self) -> bool:
        """A false-positive rate whose whole 95 % interval lies above its nominal level: the
        decision is miscalibrated, not unlucky."""
        return self.kind == "fp" and self.nominal is not None and self.interval[0] > self.nominal


def wilson(hits: int, reps: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion: sensible at 0 and at small counts, where the
    normal approximation gives intervals below zero."""
    if reps <= 0:
        return (math.nan, math.nan)
    p = hits / reps
    denom = 1 + z * z / reps
    centre = (p + z * z / (2 * reps)) / denom
    half = z * math.sqrt(p * (1 - p) / reps + z * z / (4 * reps * reps)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f} %"


def markdown(rows: list[Row]) -> str:
    """The table as Markdown, as bench/README.md and docs/baselines.md carry it."""
    lines = [
        "| decision | scenario | measures | rate | 95 % interval | reps | nominal | ok |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r.interval
        nominal = _pct(r.nominal) if r.nominal is not None else ""
        # A row with no nominal level (measured outside the test's assumptions) claims nothing.
        ok = "" if r.kind != "fp" or r.nominal is None else ("NO" if r.exceeds_nominal else "yes")
        measures = "false positives" if r.kind == "fp" else "power"
        lines.append(
            f"| {r.decision} | {r.scenario} | {measures} | {_pct(r.rate)} ({r.hits}/{r.reps}) "
            f"| {_pct(lo)}–{_pct(hi)} | {r.reps} | {nominal} | {ok} |"
        )
    return "\n".join(lines)

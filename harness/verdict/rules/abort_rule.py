"""The ``abort:`` section of baselines.yaml: when and over what window a run may be stopped early.

The section only says how the live checks judge; whether they run at all is a per-run choice
(``--abort-on-fail`` / ``ABORT_ON_FAIL``), so the same file serves runs with and without them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

from harness.suggest import closest_match
from harness.verdict.model import CPU

# What the live checks can look at: the metrics of the limits (thresholds.LIMIT_METRICS, written
# out here since thresholds.py imports this module) and the load generator's own CPU against
# max_cpu_percent, which aborts as INCONCLUSIVE, never as FAIL.
ABORT_CHECKS = ("success_rate", "p50", "p95", "p99", "max", "rps", CPU)


@dataclass(frozen=True)
class AbortRule:
    after_s: float = 60.0  # no abort before this many seconds from the test's start
    window_s: float = 30.0  # the trailing window the limits are checked over
    every_s: float = 5.0  # how often the window is checked
    checks: tuple[str, ...] = ("success_rate", "p95")
    # The chance that a run whose every limit holds is ever aborted: spread over every look the
    # run can make and every test at a look (harness/verdict/decide/sequential.py).
    alpha: float = 0.01

    def to_dict(self) -> dict[str, Any]:
        return {
            "after_s": self.after_s,
            "window_s": self.window_s,
            "every_s": self.every_s,
            "checks": list(self.checks),
            "alpha": self.alpha,
        }


class _Parser(Protocol):
    """What ``parse_abort`` asks of the thresholds file's parser (thresholds.py imports this module,
    so it is named by what it does, not imported)."""

    def fail(self, message: str) -> Exception: ...

    def mapping(self, value: Any, place: str, what: str) -> dict[str, Any]: ...

    def known_keys(self, mapping: dict[str, Any], allowed: list[str], where: str) -> None: ...

    def number(
        self, mapping: dict[str, Any], key: str, default: float, prefix: str, *, low: float | None = None
    ) -> float: ...


def parse_abort(p: _Parser, value: Any) -> AbortRule:
    """The ``abort`` mapping, validated with the thresholds file's parser ``p`` (so errors name the
    file and the key the same way, with a suggestion for a typo)."""
    given = p.mapping(value, "abort", "abort")
    p.known_keys(given, [f.name for f in fields(AbortRule)], "in abort")
    d = AbortRule()
    checks = given.get("checks", list(d.checks))
    if not isinstance(checks, list) or not checks:
        raise p.fail(f"abort.checks must be a list of checks, e.g. [success_rate, p95], not {_show(checks)}")
    for check in checks:
        if check not in ABORT_CHECKS:
            close = closest_match(str(check), list(ABORT_CHECKS))
            hint = f" (did you mean '{close}'?)" if close else f" (one of {', '.join(ABORT_CHECKS)})"
            raise p.fail(f"unknown check {_show(check)} in abort.checks{hint}")
    alpha = p.number(given, "alpha", d.alpha, "abort.")
    if not 0 < alpha < 1:
        raise p.fail(
            f"abort.alpha is {alpha:g} but must be above 0 and below 1 (e.g. 0.01: one healthy run "
            f"in 100 may be aborted)"
        )
    return AbortRule(
        alpha=alpha,
        after_s=p.number(given, "after_s", d.after_s, "abort.", low=0),
        # A window of less than a second holds about one flush of points: too few to judge.
        window_s=p.number(given, "window_s", d.window_s, "abort.", low=1),
        every_s=p.number(given, "every_s", d.every_s, "abort.", low=1),
        checks=tuple(dict.fromkeys(checks)),
    )


def _show(value: Any) -> str:
    if value is None:
        return "null (empty)"
    return "an empty list" if value == [] else repr(value)

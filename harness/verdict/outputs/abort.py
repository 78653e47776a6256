"""An abort as the verdict shows it: the ``events`` line the live checks store, verdict.json's
``abort`` and the one line of the summary and the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from harness.influx.datamodel import EVENT_ABORT, event_line as _event_line
from harness.verdict.decide.abort import CONFIRMED_ON
from harness.verdict.model import AbortOutcome, AbortRecord, Check


def event_line(run_id: str, test_env: str, record: AbortRecord) -> str:
    """The annotation Grafana draws (title, text, tags) plus what the checker needs to judge the
    window again."""
    first = record.breaches[0]
    title = "Run aborted" if record.kind == "fail" else "Run aborted (load generator)"
    return _event_line(
        run_id,
        test_env,
        EVENT_ABORT,
        title,
        record.text(),
        record.time_ns,
        extra_fields={
            "at_s": float(record.at_s),
            "kind": record.kind,
            "check": f"{first.scope} {first.metric}",
            "window_start": int(record.start_ns),
            "window_end": int(record.end_ns),
            "breaches": json.dumps([asdict(b) for b in record.breaches]),
            "look": int(record.look),
            "looks": int(record.looks or 0),
            "alpha": float(record.alpha),
        },
    )


def abort_dict(outcome: AbortOutcome | None, utc: Callable[[int], str]) -> dict[str, Any] | None:
    """verdict.json's ``abort``: when, which checks, the window's figures live and on complete data."""
    if outcome is None:
        return None
    r = outcome.record
    first = r.breaches[0]
    return {
        "at_s": r.at_s,
        "time": utc(r.time_ns),
        "kind": r.kind,
        "check": f"{first.scope} {first.metric}",
        "confirmed": outcome.confirmed,
        "message": outcome.check.message,
        "window": {
            "start": utc(r.start_ns),
            "end": utc(r.end_ns),
            "duration_s": (r.end_ns - r.start_ns) / 1e9,
        },
        "live": [asdict(b) for b in r.breaches],
        "looks": {"look": r.look, "of": r.looks, "alpha": r.alpha},
        "confirmation": {"data": CONFIRMED_ON, "tests": [t.as_dict() for t in outcome.confirmation]},
        "exact": [
            _check_dict(c, r.exact.requests(c.scope) if r.exact is not None else None) for c in outcome.exact
        ],
        "whole_run": [_check_dict(c) for c in outcome.whole_run],
    }


def _check_dict(c: Check, requests: int | None = None) -> dict[str, Any]:
    out = {
        "scope": c.scope,
        "metric": c.metric,
        "threshold": c.threshold,
        "observed": c.observed,
        "passed": c.passed,
        "message": c.message,
    }
    if requests is not None:
        out["requests"] = requests
    return out


def abort_line(outcome: AbortOutcome) -> str:
    """One line for the summary's and the report's run facts."""
    r = outcome.record
    checks = ", ".join(dict.fromkeys(f"{b.scope} {b.metric}" for b in r.breaches))
    on = CONFIRMED_ON if outcome.confirmation else "the complete stored points"
    how = f"confirmed on {on}" if outcome.confirmed else f"NOT confirmed on {on}"
    what = "the target failed" if r.kind == "fail" else "the load generator was at its limit (inconclusive)"
    return f"at t={r.at_s:.0f} s: {what}: {checks} over {r.window_text()}; {how}"

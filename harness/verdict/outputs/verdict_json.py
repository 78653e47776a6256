"""verdict.json: the whole verdict for machines. Floats are not rounded, so a p95 here can
be compared with InfluxDB to the hundredth of a millisecond."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

from harness.verdict.abort import abort_dict
from harness.verdict.evaluate import generation_target_in_force
from harness.verdict.model import Stats, Verdict
from harness.verdict.thresholds import Thresholds

SCHEMA_VERSION = 1


def render(verdict: Verdict, thresholds: Thresholds) -> str:
    return json.dumps(document(verdict, thresholds), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def document(verdict: Verdict, thresholds: Thresholds) -> dict[str, Any]:
    m = verdict.measurements
    c = m.completeness
    target = generation_target_in_force(thresholds, m)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": verdict.run_id,
        "test_env": m.test_env,
        "verdict": verdict.verdict,
        "exit_code": int(verdict.exit_code),
        "baseline_run_id": verdict.baseline_run_id,
        "window": {"start": utc_text(m.start), "end": utc_text(m.end),
                   "duration_s": _finite(m.duration_s), "warmup_s": _finite(m.warmup_s)},
        "checks": [{"scope": k.scope, "metric": k.metric, "threshold": _finite(k.threshold),
                    "observed": _finite(k.observed), "passed": k.passed, "kind": k.kind,
                    "message": k.message} for k in verdict.checks],
        "endpoints": {key: {"api": s.api, **stats_dict(s)} for key, s in m.endpoints.items()},
        "apis": {api: stats_dict(s) for api, s in m.apis.items()},
        "generation": {
            "target_per_s": _finite(target),
            "min_per_s": _finite(target * thresholds.generation.min_throughput_ratio)
            if target else None,
            "achieved_per_s": _finite(m.generation_rate),
        },
        "completeness": None if c is None else {
            "seen": c.seen, "stored": c.stored, "missing": c.missing, "dropped": c.dropped,
            "spooled": c.spooled, "workers": c.workers, "lost_workers": list(c.lost_workers),
            "quarantined": c.quarantined},
        "cpu_max_percent": _finite(m.cpu_max_percent),
        "abort": abort_dict(verdict.abort, lambda ns: utc_text(datetime.fromtimestamp(ns / 1e9, timezone.utc))),
        "reasons": list(verdict.reasons),
        "warnings": list(verdict.warnings),
        "thresholds": thresholds.to_dict(),
    }


def stats_dict(s: Stats) -> dict[str, Any]:
    return {"requests": s.requests, "failures": s.failures,
            "success_rate": _finite(s.success_rate), "p50": _finite(s.p50),
            "p95": _finite(s.p95), "p99": _finite(s.p99), "max": _finite(s.max),
            "rps": _finite(s.rps)}


def utc_text(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, the form InfluxQL time literals accept as is."""
    if moment.tzinfo is None:  # the query layer hands UTC; a naive value is taken as such
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _finite(value: float | None) -> float | None:
    # JSON has no NaN or infinity; an unmeasurable number is null.
    if value is None or not math.isfinite(value):
        return None
    return value

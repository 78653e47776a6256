"""verdict.json: the whole verdict for machines. Floats are not rounded, so a p95 here can
be compared with InfluxDB to the hundredth of a millisecond."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from harness.verdict.decide.evaluate import generation_target_in_force
from harness.verdict.decide.run_unit import MIN_RUNS_FOR_SPREAD
from harness.verdict.model import (
    ApiLoad,
    BaselineInfo,
    Comparison,
    Latency,
    LoadWindow,
    Measurements,
    Stats,
    Verdict,
)
from harness.verdict.outputs.abort import abort_dict
from harness.verdict.rules.thresholds import Thresholds

SCHEMA_VERSION = 1


def render(verdict: Verdict, thresholds: Thresholds) -> str:
    return json.dumps(document(verdict, thresholds), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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
        "window": judged_window_dict(m),
        "source": {"points": m.source, "accuracy": m.accuracy},
        "checks": [
            {
                "scope": k.scope,
                "metric": k.metric,
                "threshold": _finite(k.threshold),
                "observed": _finite(k.observed),
                "passed": k.passed,
                "kind": k.kind,
                "message": k.message,
            }
            for k in verdict.checks
        ],
        "endpoints": {
            key: {"api": s.api, **stats_dict(s), "scheduled": latency_dict(m.scheduled.get(key))}
            for key, s in m.endpoints.items()
        },
        "apis": {
            api: {**stats_dict(s), "scheduled": latency_dict(m.scheduled_apis.get(api))}
            for api, s in m.apis.items()
        },
        "load": load_dict(m, thresholds),
        "generation": {
            "target_per_s": _finite(target),
            "min_per_s": _finite(target * thresholds.generation.min_throughput_ratio) if target else None,
            "max_per_s": _finite(target * thresholds.generation.max_throughput_ratio)
            if target and thresholds.generation.max_throughput_ratio is not None
            else None,
            "achieved_per_s": _finite(m.generation_rate),
        },
        "completeness": None
        if c is None
        else {
            "seen": c.seen,
            "stored": c.stored,
            "missing": c.missing,
            "dropped": c.dropped,
            "spooled": c.spooled,
            "workers": c.workers,
            "lost_workers": list(c.lost_workers),
            "quarantined": c.quarantined,
        },
        "cpu_max_percent": _finite(m.cpu_max_percent),
        "baseline": None
        if verdict.baseline is None
        else baseline_dict(verdict.baseline, verdict.comparisons, thresholds),
        "comparisons": [comparison_dict(c) for c in verdict.comparisons],
        "abort": abort_dict(
            verdict.abort, lambda ns: utc_text(datetime.fromtimestamp(ns / 1e9, timezone.utc))
        ),
        "reasons": list(verdict.reasons),
        "warnings": list(verdict.warnings),
        "thresholds": thresholds.to_dict(),
    }


def judged_window_dict(m: Measurements) -> dict[str, Any]:
    """The judged window: ``time >= start AND time <= end`` (both in ns, both included) selects
    exactly the requests the verdict counted."""
    start_ns, end_ns = m.window_ns
    return {
        "start": utc_ns_text(start_ns),
        "end": utc_ns_text(end_ns),
        "start_ns": start_ns,
        "end_ns": end_ns,
        "duration_s": _finite(m.duration_s),
        "warmup_s": _finite(m.warmup_s),
    }


def baseline_dict(
    b: BaselineInfo, comparisons: Sequence[Comparison] = (), thresholds: Thresholds | None = None
) -> dict[str, Any]:
    """Which runs, and how they were used: the unit of comparison is the run; with 3 or more baseline
    runs their own spread gives a prediction interval, with fewer the run-to-run floor is assumed."""
    r = (thresholds or Thresholds()).regression
    runs = len(b.run_ids)
    return {
        "spec": b.spec,
        "run_ids": list(b.run_ids),
        "method": b.method,
        "forced": b.forced,
        "load_difference": b.load_difference,
        "unusable": b.unusable,
        "note": b.note,
        "unit": "run",
        "runs": runs,
        "interval": "prediction" if runs >= MIN_RUNS_FOR_SPREAD else "run-to-run floor",
        "run_to_run_percent": None if runs >= MIN_RUNS_FOR_SPREAD else _finite(r.run_to_run_percent),
        "false_positive_rate": _finite(r.false_positive_rate),
        "multiple_testing": "holm",
        "tests": sum(c.low is not None for c in comparisons),
    }


def comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "scope": c.scope,
        "api": c.api,
        "endpoint": c.endpoint,
        "statistic": c.statistic,
        "baseline": _finite(c.baseline),
        "current": _finite(c.current),
        "change": _finite(c.change),
        "change_percent": _finite(c.change_percent),
        "low": _finite(c.low),
        "high": _finite(c.high),
        "confidence": _finite(c.confidence),
        "min_effect": _finite(c.min_effect),
        "limit": _finite(c.limit),
        "decision": c.decision,
        "reason": c.reason,
        "runs": c.runs,
        "run_to_run_percent": _finite(c.run_to_run_percent),
        "p_value": _finite(c.p_value),
    }


def stats_dict(s: Stats) -> dict[str, Any]:
    return {
        "requests": s.requests,
        "failures": s.failures,
        "success_rate": _finite(s.success_rate),
        "p50": _finite(s.p50),
        "p95": _finite(s.p95),
        "p99": _finite(s.p99),
        "max": _finite(s.max),
        "rps": _finite(s.rps),
        "spread": {name: {"se": _finite(sp.se), "windows": sp.windows} for name, sp in s.spread.items()},
    }


def utc_ns_text(ns: int) -> str:
    """RFC 3339 UTC to the nanosecond, e.g. 2025-03-01T10:00:05.123456789Z (InfluxQL accepts it)."""
    seconds, rest = divmod(int(ns), 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{rest:09d}Z"


def latency_dict(latency: Latency | None) -> dict[str, Any] | None:
    """Latency from the scheduled start (arrival model); None where requests carry none."""
    if latency is None:
        return None
    return {
        "p50": _finite(latency.p50),
        "p95": _finite(latency.p95),
        "p99": _finite(latency.p99),
        "max": _finite(latency.max),
    }


def load_dict(m: Measurements, thresholds: Thresholds) -> dict[str, Any]:
    """The load asked and achieved: per API given a rate (arrival model), its windows."""
    return {
        "model": m.load_model,
        "window_s": thresholds.load.window_s,
        "tolerance": thresholds.load.tolerance,
        "latency": thresholds.load.latency if m.load_model == "arrival" else "service",
        "apis": {api: api_load_dict(load) for api, load in sorted(m.load.items())},
        "absent": sorted(set(thresholds.apis) - set(m.load)) if m.load_model == "arrival" else [],
    }


def api_load_dict(load: ApiLoad) -> dict[str, Any]:
    return {
        "target_per_s": _finite(load.target_per_s),
        "achieved_per_s": _finite(load.achieved_per_s),
        "key_request": load.defining,
        "scheduled": load.scheduled,
        "started": load.started,
        "late": load.late,
        "dropped": load.dropped,
        "max_lag_ms": _finite(load.max_lag_ms),
        "windows": [window_dict(w) for w in load.windows],
    }


def window_dict(w: LoadWindow) -> dict[str, Any]:
    return {
        "start_s": w.start_s,
        "end_s": w.end_s,
        "target_per_s": _finite(w.target_per_s),
        "achieved_per_s": _finite(w.achieved_per_s),
        "key_requests_per_s": _finite(w.requests_per_s),
        "scheduled": w.scheduled,
        "started": w.started,
        "late": w.late,
        "dropped": w.dropped,
        "max_lag_ms": _finite(w.max_lag_ms),
        "cpu_max_percent": _finite(w.cpu_max_percent),
        "loop_lag_max_ms": _finite(w.loop_lag_max_ms),
        "pool_users": w.pool_users,
        "slowest_in_flight_ms": _finite(w.slowest_in_flight_ms),
    }


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

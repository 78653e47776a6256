"""report.json: everything on the page, for machines (schema in docs/reports.md). Numbers are not
rounded; a value that cannot be measured is null."""

from __future__ import annotations

import json
from typing import Any

from harness.report.fmt import finite, utc_ns
from harness.report.series import Bucket
from harness.report.view import ReportView
from harness.verdict import (
    abort_dict,
    baseline_dict,
    comparison_dict,
    latency_dict,
    load_dict,
    scope_status,
    stats_dict,
    utc_ns_text,
)

SCHEMA_VERSION = 1


def render(view: ReportView) -> str:
    return json.dumps(document(view), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def bucket_dict(view: ReportView, b: Bucket) -> dict[str, Any]:
    return {
        "t": utc_ns(b.t_ns),
        "elapsed_s": round(view.x_of(b.t_ns), 3),
        "requests": b.requests,
        "failures": b.failures,
        "success_rate": finite(b.success_rate),
        "p95": finite(b.p95),
        "rps": finite(b.rps),
        "p95_scheduled": finite(b.p95_scheduled),
    }


def document(view: ReportView) -> dict[str, Any]:
    v, m, s = view.verdict, view.verdict.measurements, view.series
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": v.run_id,
        "test_env": m.test_env,
        "verdict": v.verdict,
        "exit_code": int(v.exit_code),
        "baseline_run_id": v.baseline_run_id,
        "baseline": None if v.baseline is None else baseline_dict(v.baseline, v.comparisons, view.thresholds),
        "comparisons": [comparison_dict(c) for c in v.comparisons],
        "reasons": list(v.reasons),
        "warnings": list(v.warnings),
        "window": {
            "run_start": utc_ns(s.first_ns),
            "run_end": utc_ns(s.last_ns),
            "judged_start": utc_ns_text(m.window_ns[0]),
            "judged_end": utc_ns_text(m.window_ns[1]),
            "warmup_s": finite(m.warmup_s),
            "judged_s": finite(m.duration_s),
        },
        "interval_s": s.interval_s,
        "source": {"points": m.source, "accuracy": m.accuracy},
        "checks": [
            {
                "scope": c.scope,
                "metric": c.metric,
                "threshold": finite(c.threshold),
                "observed": finite(c.observed),
                "passed": c.passed,
                "kind": c.kind,
                "message": c.message,
            }
            for c in v.checks
        ],
        "endpoints": {
            e.key: {
                "api": e.api,
                **(stats_dict(e.stats) if e.stats is not None else _no_stats()),
                "scheduled": latency_dict(e.scheduled),
                "limits": dict(e.limits.items()) if e.limits is not None else {},
                "status": e.status,
            }
            for e in view.endpoints
        },
        "apis": {
            api: {
                **stats_dict(st),
                "scheduled": latency_dict(m.scheduled_apis.get(api)),
                "status": scope_status(v.checks, f"api:{api}"),
            }
            for api, st in sorted(m.apis.items())
        },
        "load": load_dict(m, view.thresholds),
        "series": {e.key: [bucket_dict(view, b) for b in e.buckets] for e in view.endpoints},
        "total": [bucket_dict(view, b) for b in s.total],
        "users": [{"t": utc_ns(t), "elapsed_s": round(view.x_of(t), 3), "users": n} for t, n in s.users],
        "arrivals": {
            api: [
                {
                    "t": utc_ns(b.t_ns),
                    "elapsed_s": round(view.x_of(b.t_ns), 3),
                    "target_per_s": b.target_per_s,
                    "scheduled_per_s": b.scheduled_per_s,
                    "started_per_s": b.started_per_s,
                    "late": b.late,
                    "dropped": b.dropped,
                }
                for b in buckets
            ]
            for api, buckets in s.arrivals.items()
        },
        "completeness": None
        if m.completeness is None
        else {
            "seen": m.completeness.seen,
            "stored": m.completeness.stored,
            "missing": m.completeness.missing,
            "dropped": m.completeness.dropped,
            "spooled": m.completeness.spooled,
            "workers": m.completeness.workers,
            "lost_workers": list(m.completeness.lost_workers),
            "quarantined": m.completeness.quarantined,
        },
        "generation_rate": finite(m.generation_rate),
        "cpu_max_percent": finite(m.cpu_max_percent),
        "abort": abort_dict(v.abort, utc_ns),
        "parameters": view.parameters,
        "thresholds_source": view.thresholds.source,
    }


def _no_stats() -> dict[str, Any]:
    # An endpoint called only during the warm-up: in the series, not in the judged numbers.
    return {
        "requests": 0,
        "failures": 0,
        "success_rate": None,
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
        "rps": 0.0,
    }

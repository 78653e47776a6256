"""The verdict's inputs built by hand (Measurements, their endpoints, groups and load windows), so
each rule is tested on numbers with a known answer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from harness.verdict.model import ApiLoad, Completeness, EndpointStats, LoadWindow, Measurements, Stats

START = datetime(2025, 1, 1, 12, 0, 5, tzinfo=timezone.utc)
END = datetime(2025, 1, 1, 12, 1, 0, tzinfo=timezone.utc)
API_OF = {
    "POST /api/v1/auth/login": "auth",
    "GET /health": "auth",
    "POST /api/v1/generations": "generation",
    "POST /api/v1/payments": "payments",
    "GET /metrics": "other",
}


def ep(
    key: str, requests: int = 100, success: float = 100.0, p95: float = 100.0, api: str | None = None, **more
) -> EndpointStats:
    failures = round(requests * (100 - success) / 100)
    values: dict[str, Any] = dict(p50=p95 / 2, p99=p95 * 1.2, max=p95 * 1.5, rps=requests / 55)
    values.update(more)
    return EndpointStats(
        key=key,
        api=api or API_OF[key],
        requests=requests,
        failures=failures,
        success_rate=success if requests else None,
        p95=p95 if requests else None,
        **values,
    )


def group(*endpoints: EndpointStats, **more) -> Stats:
    requests = sum(e.requests for e in endpoints)
    failures = sum(e.failures for e in endpoints)
    values: dict[str, Any] = dict(
        requests=requests,
        failures=failures,
        success_rate=100 * (requests - failures) / requests if requests else None,
        p50=max(e.p50 for e in endpoints if e.p50 is not None),
        p95=max(e.p95 or 0 for e in endpoints),
        p99=max(e.p99 for e in endpoints if e.p99 is not None),
        max=max(e.max for e in endpoints if e.max is not None),
        rps=sum(e.rps for e in endpoints),
    )
    values.update(more)
    return Stats(**values)


def run(
    *endpoints: EndpointStats, apis: dict | None = None, complete: bool = True, run_id: str = "r1", **more
) -> Measurements:
    if apis is None:
        by_api: dict[str, list] = {}
        for e in endpoints:
            by_api.setdefault(e.api, []).append(e)
        apis = {name: group(*members) for name, members in by_api.items()}
    total = sum(e.requests for e in endpoints)
    values: dict[str, Any] = dict(
        generation_rate=10.0,
        completeness=Completeness(seen=total, stored=total, dropped=0, spooled=0, workers=1)
        if complete
        else None,
    )
    values.update(more)
    return Measurements(
        run_id=run_id,
        test_env="test",
        start=START,
        end=END,
        duration_s=55.0,
        warmup_s=5.0,
        endpoints={e.key: e for e in endpoints},
        apis=apis,
        **values,
    )


def checks_of(verdict, scope=None, metric=None):
    return [
        c
        for c in verdict.checks
        if (scope is None or c.scope == scope) and (metric is None or c.metric == metric)
    ]


def window(
    start_s: float = 5.0,
    target: float = 40.0,
    started: int | None = None,
    late: int = 0,
    dropped: int = 0,
    scheduled: int | None = None,
    **more,
) -> LoadWindow:
    planned = round(target * 10)
    values: dict[str, Any] = dict(
        pool_users=10, cpu_max_percent=40.0, loop_lag_max_ms=2.0, slowest_in_flight_ms=20.0, max_lag_ms=0.0
    )
    values.update(more)
    return LoadWindow(
        start_s=start_s,
        end_s=start_s + 10,
        target_per_s=target,
        scheduled=planned if scheduled is None else scheduled,
        started=planned if started is None else started,
        late=late,
        dropped=dropped,
        **values,
    )


def arrival_run(*windows: LoadWindow, api: str = "payments", endpoints=None, poisson: bool = False, **more):
    load = ApiLoad(
        api=api,
        target_per_s=windows[0].target_per_s if windows else 40.0,
        windows=list(windows),
        scheduled=sum(w.scheduled for w in windows),
        started=sum(w.started for w in windows),
        late=sum(w.late for w in windows),
        dropped=sum(w.dropped for w in windows),
        max_lag_ms=max((w.max_lag_ms for w in windows if w.max_lag_ms is not None), default=None),
        poisson=poisson,
        defining="POST /api/v1/payments",
    )
    endpoints = endpoints or [ep("POST /api/v1/payments", requests=1000)]
    return run(*endpoints, load_model="arrival", load={api: load}, generation_rate=None, **more)

"""endpoints.csv (one row per endpoint, judged window) and series.csv (one row per endpoint and
interval, whole run): for spreadsheets. Plain numbers, unrounded; an empty cell is "no value"."""

from __future__ import annotations

import csv
import io

from harness.report.fmt import finite, utc_ns
from harness.report.view import ReportView

# New columns go last, so a spreadsheet reading columns by position keeps working.
ENDPOINT_COLUMNS = [
    "endpoint",
    "method",
    "name",
    "api",
    "requests",
    "failures",
    "success_rate",
    "p50",
    "p95",
    "p99",
    "max",
    "rps",
    "limit_min_success_rate",
    "limit_max_p95_ms",
    "status",
    "p95_scheduled",
    "p99_scheduled",
]
SERIES_COLUMNS = [
    "time",
    "elapsed_s",
    "endpoint",
    "api",
    "requests",
    "failures",
    "success_rate",
    "p95",
    "rps",
    "p95_scheduled",
]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = finite(value)
        return "" if value is None else repr(value)
    return str(value)


def _table(columns: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def endpoints_csv(view: ReportView) -> str:
    rows = []
    for e in view.endpoints:
        s, limits = e.stats, e.limits
        method, name = e.key.split(" ", 1)
        numbers = (
            [s.requests, s.failures, s.success_rate, s.p50, s.p95, s.p99, s.max, s.rps]
            if s is not None
            else [0, 0, None, None, None, None, None, 0.0]
        )
        rows.append(
            [
                e.key,
                method,
                name,
                e.api,
                *numbers,
                limits.min_success_rate if limits is not None else None,
                limits.max_p95_ms if limits is not None else None,
                e.status,
                e.scheduled.p95 if e.scheduled is not None else None,
                e.scheduled.p99 if e.scheduled is not None else None,
            ]
        )
    return _table(ENDPOINT_COLUMNS, rows)


def series_csv(view: ReportView) -> str:
    rows = [
        [
            utc_ns(b.t_ns),
            round(view.x_of(b.t_ns), 3),
            e.key,
            e.api,
            b.requests,
            b.failures,
            b.success_rate,
            b.p95,
            b.rps,
            b.p95_scheduled,
        ]
        for e in view.endpoints
        for b in e.buckets
    ]
    return _table(SERIES_COLUMNS, rows)

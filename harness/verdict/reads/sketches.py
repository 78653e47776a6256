"""Sketch mode's reads: a run's ``request_sketch`` points (every worker's, per endpoint, status and
second) for the verdict, its live checks and its report; the statistics are decide/sketch_stats.py's.

A window holds the seconds whose start lies in it; the verdict's judged window starts on a second's
start whenever the run stored sketches (``measure.judged_window``), so both sources judge exactly
the same requests.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from harness.influx.client import InfluxClient, json_series, quote_string
from harness.influx.datamodel import API, METHOD, NAME, REQUEST_SKETCH
from harness.verdict.decide.sketch_stats import Bins, SketchScope

MEASUREMENT = REQUEST_SKETCH.name
ENDPOINT_TAGS = (API, METHOD, NAME)
_FIELDS = ("count", "failures", "min", "max", "sketch")
_SCHEDULED = ("scheduled_count", "scheduled_min", "scheduled_max", "scheduled_sketch")


def has_sketches(client: InfluxClient, run_id: str) -> bool:
    return bool(
        client.query(f'SELECT last("count") FROM "{MEASUREMENT}" WHERE "run_id" = {quote_string(run_id)}')
    )


def sketch_bounds(client: InfluxClient, run_id: str) -> tuple[int, int, int] | None:
    """(first request's start ns, last request's start ns, requests stored) over every worker."""
    where = f'"run_id" = {quote_string(run_id)}'
    first, last, total = client.query_results(
        f'SELECT min("first") FROM "{MEASUREMENT}" WHERE {where}; '
        f'SELECT max("last") FROM "{MEASUREMENT}" WHERE {where}; '
        f'SELECT sum("count") FROM "{MEASUREMENT}" WHERE {where}'
    )
    values = [r["series"][0]["values"][0][1] if r.get("series") else None for r in (first, last, total)]
    if any(v is None for v in values):
        return None
    return int(values[0]), int(values[1]), int(values[2])  # type: ignore[arg-type]  # None ruled out above


def read_sketches(
    client: InfluxClient, run_id: str, start_ns: int, end_ns: int, scheduled: bool = False, parts: int = 2
) -> dict[tuple[str, str, str], SketchScope]:
    """(api, method, name) → its seconds starting in ``[start_ns, end_ns]``, all workers and statuses.

    ``parts`` time slices are read as concurrent requests (InfluxDB encodes one answer on one core)."""
    fields = _FIELDS + (_SCHEDULED if scheduled else ())
    columns = ", ".join(f'"{f}"' for f in fields)
    edges = [start_ns + (end_ns - start_ns) * i // parts for i in range(parts)] + [end_ns + 1]
    statements = [
        f'SELECT {columns} FROM "{MEASUREMENT}" WHERE "run_id" = {quote_string(run_id)} '
        f'AND time >= {int(a)} AND time <= {int(b) - 1} GROUP BY "api", "method", "name"'
        for a, b in zip(edges[:-1], edges[1:])
        if b > a
    ]

    def read(statement: str) -> dict[tuple[str, str, str], list[list[Any]]]:
        # A client (a requests session) per thread: sessions are not thread-safe.
        _kind, blocks = InfluxClient(client.settings).query_chunked(statement, msgpack=False)
        rows: dict[tuple[str, str, str], list[list[Any]]] = {}
        for series in json_series(blocks, statement):
            tags = series.get("tags") or {}
            rows.setdefault(tuple(tags.get(t, "") for t in ENDPOINT_TAGS), []).extend(
                series.get("values") or []
            )
        return rows

    with ThreadPoolExecutor(len(statements)) as pool:
        results = list(pool.map(read, statements))
    rows: dict[tuple[str, str, str], list[list[Any]]] = {}
    for result in results:
        for key, values in result.items():
            rows.setdefault(key, []).extend(values)
    return {key: _scope(values, scheduled) for key, values in rows.items()}


def _scope(values: list[list[Any]], scheduled: bool) -> SketchScope:
    """Rows of time, count, failures, min, max, sketch[, scheduled_count, _min, _max, _sketch]."""
    values.sort(key=lambda row: row[0])

    def column(i: int, kind: type) -> np.ndarray:
        return np.array([row[i] if row[i] is not None else 0 for row in values], dtype=kind)

    scope = SketchScope(
        column(0, np.int64),
        column(1, np.int64),
        column(2, np.int64),
        column(3, np.float64),
        column(4, np.float64),
        Bins.parse([row[5] for row in values]),
    )
    if scheduled:
        scope.scheduled = Bins.parse([row[9] for row in values])
        scope.scheduled_count = column(6, np.int64)
        scope.scheduled_low, scope.scheduled_high = column(7, np.float64), column(8, np.float64)
    return scope

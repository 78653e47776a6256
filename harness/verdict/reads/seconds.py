"""Per-second counts of a stretch of a run: for each scope asked, every second's requests and its
failures or its requests slower than a limit, for the dispersion of the live abort's exact test
(decide/dispersion.py). Read only when a window's plain exact test already rejects, so a healthy
run's looks cost no extra query.

Request points are counted by InfluxDB in epoch-aligned seconds (``GROUP BY time(1s) fill(0)``);
sketch points are already one per worker, endpoint, status and second. A scope is an endpoint
(``POST /api/v1/payments``) or an API group (``api:payments``, the sum of its endpoints).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from harness.apis import endpoint_key
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import REQUEST
from harness.verdict.decide import sketch_stats as sks
from harness.verdict.model import SecondsKey
from harness.verdict.reads import sketches as sk

SECOND_NS = 1_000_000_000
Counts = dict[SecondsKey, tuple[tuple[int, int], ...]]


def per_second(
    client: InfluxClient,
    run_id: str,
    start_ns: int,
    end_ns: int,
    keys: Iterable[SecondsKey],
    source: str = "requests",
) -> Counts:
    """For each key, ``(requests, bad)`` of every second of ``[start_ns, end_ns]`` in time order
    (a second with no request of the scope is (0, 0))."""
    keys = tuple(dict.fromkeys(keys))
    if not keys:
        return {}
    if source == "sketches":
        times, requests, bad = _from_sketches(client, run_id, start_ns, end_ns, keys)
    else:
        times, requests, bad = _from_requests(client, run_id, start_ns, end_ns, keys)
    out: Counts = {}
    for scope, limit in keys:
        n = _scope_sum(requests, scope, len(times))
        b = _scope_sum(bad.get(limit, {}), scope, len(times))
        out[(scope, limit)] = tuple(zip(n.tolist(), b.tolist()))
    return out


# (api, endpoint key) → per-second counts on the common time grid
Series = dict[tuple[str, str], np.ndarray]


def _scope_sum(series: Series, scope: str, length: int) -> np.ndarray:
    """One scope's seconds: its endpoint's series, or the sum of its API group's."""
    total = np.zeros(length, dtype=np.int64)
    for (api, key), values in series.items():
        if key == scope or scope == f"api:{api}":
            total += values
    return total


def _from_requests(
    client: InfluxClient, run_id: str, start_ns: int, end_ns: int, keys: tuple[SecondsKey, ...]
) -> tuple[list[int], Series, dict[float | None, Series]]:
    where = f'"run_id" = {quote_string(run_id)} AND time >= {start_ns} AND time <= {end_ns}'
    group = 'GROUP BY time(1s), "api", "method", "name" fill(0)'
    limits = tuple(dict.fromkeys(limit for _, limit in keys))
    conditions = {None: "AND \"result\" = 'fail'"} | {
        limit: f'AND "response_time" > {limit!r}' for limit in limits if limit is not None
    }
    wanted = [limit for limit in conditions if limit in limits]
    statements = [f'SELECT count("response_time") FROM "{REQUEST.name}" WHERE {where} {group}'] + [
        f'SELECT count("response_time") FROM "{REQUEST.name}" WHERE {where} {conditions[limit]} {group}'
        for limit in wanted
    ]
    results = client.query_results("; ".join(statements))
    # fill(0) gives every series every second of the range, so the first bucket's start and the
    # range fix the grid.
    first = start_ns - start_ns % SECOND_NS
    times = list(range(first, end_ns + 1, SECOND_NS))
    index = {t: i for i, t in enumerate(times)}

    def series_of(result: dict[str, Any]) -> Series:
        out: Series = {}
        for series in result.get("series", []):
            tags = series.get("tags") or {}
            values = np.zeros(len(times), dtype=np.int64)
            for t, count in series.get("values") or []:
                if t in index:
                    values[index[t]] = int(count or 0)
            out[(tags.get("api", ""), endpoint_key(tags.get("method", ""), tags.get("name", "")))] = values
        return out

    requests = series_of(results[0])
    bad = {limit: series_of(result) for limit, result in zip(wanted, results[1:])}
    return times, requests, bad


def _from_sketches(
    client: InfluxClient, run_id: str, start_ns: int, end_ns: int, keys: tuple[SecondsKey, ...]
) -> tuple[list[int], Series, dict[float | None, Series]]:
    scopes = sk.read_sketches(client, run_id, start_ns, end_ns, parts=1)
    starts = [int(s.t_ns.min()) for s in scopes.values() if len(s.t_ns)]
    if not starts:
        return [], {}, {}
    first = min(starts)
    last = max(int(s.t_ns.max()) for s in scopes.values() if len(s.t_ns))
    times = list(range(first, last + 1, SECOND_NS))  # the run's seconds share one origin
    limits = tuple(dict.fromkeys(limit for _, limit in keys))
    requests: Series = {}
    bad: dict[float | None, Series] = {limit: {} for limit in limits}
    for (api, method, name), scope in scopes.items():
        slot = (scope.t_ns - first) // SECOND_NS

        def by_second(values: np.ndarray, slot: np.ndarray = slot) -> np.ndarray:
            return np.bincount(slot, weights=values, minlength=len(times)).astype(np.int64)

        key = (api, endpoint_key(method, name))
        requests[key] = by_second(scope.count)
        for limit in limits:
            bad[limit][key] = by_second(scope.failures if limit is None else sks.slower_by_row(scope, limit))
    return times, requests, bad

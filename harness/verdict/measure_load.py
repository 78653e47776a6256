"""The arrival model's part of the query layer: per-window arrivals, the load generator's state,
the answers that held its users, and latency from the scheduled start (CONTRACT: docs/data-model.md).

Each worker writes one ``arrivals`` point per API and second, stamped at the end of its second.
Windows are whole seconds of those: [start + k·W, start + (k+1)·W) for requests, and the
``arrivals`` points stamped in (start + k·W, start + (k+1)·W] — bucketed half a second late, so a
point stamped a few ns past a second's boundary still lands in the window of its second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.apis import endpoint_key
from harness.influx.client import InfluxClient, quote_string
from harness.verdict.model import ApiLoad, Latency, LoadWindow

SECOND_NS = 1_000_000_000
HALF_SECOND_NS = SECOND_NS // 2
SCHEDULED = "scheduled_response_time"


@dataclass(frozen=True)
class ArrivalSpan:
    """When a run's arrivals were counted: ``epoch_ns`` is the start of the first counted second."""

    epoch_ns: int
    last_ns: int  # the last arrivals point (the end of the last counted second)


def _rows(result: dict) -> list[tuple[dict, dict]]:
    return [(s.get("tags") or {}, dict(zip(s["columns"], values)))
            for s in result.get("series", []) for values in s.get("values", [])]


def arrival_span(client: InfluxClient, run_id: str) -> ArrivalSpan | None:
    """The run's arrivals, or None when it stored none (the users model)."""
    where = f'"run_id" = {quote_string(run_id)}'
    first, last = client.query_results(f'SELECT first("scheduled") FROM "arrivals" WHERE {where}; '
                                       f'SELECT last("scheduled") FROM "arrivals" WHERE {where}')
    first_rows, last_rows = _rows(first), _rows(last)
    if not first_rows:
        return None
    # Points are stamped in whole ms (the ns digits tell APIs apart): seconds start on the ms.
    first_ms = int(first_rows[0][1]["time"]) // 1_000_000
    return ArrivalSpan(epoch_ns=first_ms * 1_000_000 - SECOND_NS, last_ns=int(last_rows[0][1]["time"]))


def judged_start(span: ArrivalSpan, warmup_s: float) -> int:
    """The first arrival plus the warm-up, on a boundary of the counted seconds."""
    return span.epoch_ns + math.ceil(warmup_s) * SECOND_NS


def read_load(client: InfluxClient, run_id: str, *, first_ns: int, start_ns: int, load_end_ns: int,
              window_s: float, key_requests: dict[str, tuple[str, str]],
              pool_users: int | None = None) -> dict[str, ApiLoad]:
    """Every full window from ``start_ns`` up to ``load_end_ns`` (when the users were told to stop),
    per API that stored arrivals. ``first_ns`` (the run's first request) is where window times count
    from; ``pool_users`` is the pool's size (all workers)."""
    window_ns = int(window_s) * SECOND_NS
    count = max(0, (load_end_ns - start_ns) // window_ns)
    end_ns = start_ns + count * window_ns
    run = f'"run_id" = {quote_string(run_id)}'
    shifted = f"time >= {start_ns + HALF_SECOND_NS} AND time < {end_ns + HALF_SECOND_NS}"
    plain = f"time >= {start_ns} AND time < {end_ns}"
    group = f"time({int(window_s)}s, {(start_ns // 1000) % (window_ns // 1000)}u)"
    shifted_group = f"time({int(window_s)}s, {((start_ns + HALF_SECOND_NS) // 1000) % (window_ns // 1000)}u)"
    keys = " OR ".join(f'("method" = {quote_string(m)} AND "name" = {quote_string(n)})'
                       for m, n in key_requests.values()) or '"method" = \'\''
    arrivals, generator, requests, answers, totals = client.query_results(
        f'SELECT sum("target_per_s") AS "expected", sum("scheduled") AS "scheduled", sum("started") AS "started", '
        f'sum("late") AS "late", sum("dropped") AS "dropped", max("max_lag_ms") AS "max_lag_ms" FROM "arrivals" '
        f'WHERE {run} AND {shifted} GROUP BY {shifted_group}, "api" fill(0); '
        f'SELECT max("cpu_percent") AS "cpu", max("loop_lag_ms") AS "lag" FROM "users" '
        f'WHERE {run} AND {plain} GROUP BY {group} fill(none); '
        f'SELECT count("response_time") AS "requests" FROM "request" WHERE {run} AND {plain} AND ({keys}) '
        f'GROUP BY {group}, "method", "name" fill(0); '
        # Answers started up to a window's end can hold users in it, from however far back.
        f'SELECT max("response_time") AS "slowest" FROM "request" WHERE {run} AND time >= {first_ns} '
        f'AND time < {end_ns} GROUP BY time(1s), "api" fill(none); '
        f'SELECT sum("target_per_s") AS "expected", sum("scheduled") AS "scheduled", sum("started") AS "started", '
        f'sum("late") AS "late", sum("dropped") AS "dropped", max("max_lag_ms") AS "max_lag_ms", '
        f'max("target_per_s") AS "any" FROM "arrivals" WHERE {run} AND {shifted} GROUP BY "api"')

    by_window = {(tags["api"], int(row["time"]) - HALF_SECOND_NS): row for tags, row in _rows(arrivals)}
    state = {int(row["time"]): row for _, row in _rows(generator)}
    key_counts = {(endpoint_key(tags["method"], tags["name"]), int(row["time"])): int(row["requests"])
                  for tags, row in _rows(requests)}
    slowest: dict[str, list[tuple[int, float]]] = {}
    for tags, row in _rows(answers):
        slowest.setdefault(tags["api"], []).append((int(row["time"]), float(row["slowest"])))

    loads = {}
    for tags, total in _rows(totals):
        api = tags["api"]
        key = endpoint_key(*key_requests[api]) if api in key_requests else None
        windows = []
        for k in range(count):
            w_start = start_ns + k * window_ns
            row = by_window.get((api, w_start), {})
            st = state.get(w_start, {})
            windows.append(LoadWindow(
                start_s=round((w_start - first_ns) / 1e9, 3), end_s=round((w_start + window_ns - first_ns) / 1e9, 3),
                target_per_s=float(row.get("expected") or 0) / window_s,
                scheduled=int(row.get("scheduled") or 0), started=int(row.get("started") or 0),
                late=int(row.get("late") or 0), dropped=int(row.get("dropped") or 0),
                requests=key_counts.get((key, w_start), 0) if key else None,
                max_lag_ms=row.get("max_lag_ms"), cpu_max_percent=st.get("cpu"), loop_lag_max_ms=st.get("lag"),
                pool_users=pool_users,
                slowest_in_flight_ms=_slowest_in_flight(slowest.get(api, []), w_start, w_start + window_ns)))
        judged_s = count * window_s
        loads[api] = ApiLoad(api=api, target_per_s=float(total["expected"] or 0) / judged_s if judged_s else
                             float(total["any"] or 0), windows=windows,
                             scheduled=int(total["scheduled"] or 0), started=int(total["started"] or 0),
                             late=int(total["late"] or 0), dropped=int(total["dropped"] or 0),
                             max_lag_ms=total.get("max_lag_ms"), defining=key)
    return loads


def _slowest_in_flight(seconds: list[tuple[int, float]], start_ns: int, end_ns: int) -> float | None:
    """The slowest answer started before ``end_ns`` that may still have been open at ``start_ns``:
    per second of starts, its slowest answer, counted from the second's end (the latest start)."""
    held = [ms for t, ms in seconds if t < end_ns and t + SECOND_NS + ms * 1e6 > start_ns]
    return max(held) if held else None


def read_scheduled_latency(client: InfluxClient, where: str, concurrently) -> tuple[dict[str, Latency],
                                                                                    dict[str, Latency]]:
    """p50, p95, p99 and max of ``scheduled_response_time`` per endpoint and per API group, exact
    (InfluxDB's PERCENTILE over every raw point), for the requests that carry it."""
    def statements(group: str) -> list[str]:
        base = f'FROM "request" WHERE {where} GROUP BY {group}'
        return [f'SELECT percentile("{SCHEDULED}", 50) AS "p50", max("{SCHEDULED}") AS "max" {base}',
                f'SELECT percentile("{SCHEDULED}", 95) AS "p95" {base}',
                f'SELECT percentile("{SCHEDULED}", 99) AS "p99" {base}']

    by_endpoint, by_api = '"api", "method", "name"', '"api"'
    results = concurrently(client, statements(by_endpoint) + statements(by_api))
    endpoints: dict[str, dict] = {}
    apis: dict[str, dict] = {}
    for i, result in enumerate(results):
        for tags, row in _rows(result):
            if i < 3:
                endpoints.setdefault(endpoint_key(tags["method"], tags["name"]), {}).update(row)
            else:
                apis.setdefault(tags["api"], {}).update(row)

    def latency(row: dict) -> Latency | None:
        if row.get("max") is None:
            return None
        return Latency(p50=row.get("p50"), p95=row.get("p95"), p99=row.get("p99"), max=row["max"])

    return ({k: lat for k, row in endpoints.items() if (lat := latency(row)) is not None},
            {k: lat for k, row in apis.items() if (lat := latency(row)) is not None})

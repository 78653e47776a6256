"""The arrival model's part of the query layer: per-window arrivals asked and achieved, the load
generator's state, the answers that held its users, and latency from the scheduled start
(docs/data-model.md, docs/load-models.md).

Windows run from the first arrival (the ``arrivals_start`` event) plus the warm-up, ``window_s``
each, up to the stop request. In each:

- **achieved**: the API's stored key requests (every iteration starts with exactly one), counted
  by their start time — exact, whatever the load generator's own counters say;
- **asked**: what the plan's rate curve integrates to over the window (all workers together);
- **late, dropped, started, lag**: the ``arrivals`` points, one per worker, API and sampled second,
  each put in the window that holds most of its second (they are stamped when sampled, at the
  end of their second, so a window takes those stamped in its span shifted half a second late).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.apis import endpoint_key
from harness.influx.client import InfluxClient, QueryError, quote_string
from harness.influx.datamodel import EVENT_ARRIVALS_START, EVENTS, run_data_source
from harness.verdict.model import ApiLoad, Latency, LoadWindow

if TYPE_CHECKING:  # imported where used: the CLI need not load the arrival model
    from harness.arrivals.plan import LoadPlan

SECOND_NS = 1_000_000_000
HALF_SECOND_NS = SECOND_NS // 2
SCHEDULED = "scheduled_response_time"


@dataclass(frozen=True)
class ArrivalSpan:
    """When a run's arrivals began (``epoch_ns``) and its last ``arrivals`` point."""

    epoch_ns: int
    last_ns: int


def _rows(result: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (s.get("tags") or {}, dict(zip(s["columns"], values)))
        for s in result.get("series", [])
        for values in s.get("values", [])
    ]


def arrival_span(client: InfluxClient, run_id: str, runs_rp: str = "runs") -> ArrivalSpan | None:
    """The run's arrivals, or None when it stored none (the users model). The epoch is the
    ``arrivals_start`` event; without one, the start of the first sampled second."""
    where = f'"run_id" = {quote_string(run_id)}'
    first, last = client.query_results(
        f'SELECT first("scheduled") FROM "arrivals" WHERE {where}; '
        f'SELECT last("scheduled") FROM "arrivals" WHERE {where}'
    )
    first_rows, last_rows = _rows(first), _rows(last)
    if not first_rows:
        return None
    epoch = int(first_rows[0][1]["time"]) - SECOND_NS
    try:
        (event,) = client.query_results(
            f'SELECT first("title") FROM {run_data_source(runs_rp, EVENTS)} WHERE {where} '
            f'AND "type" = {quote_string(EVENT_ARRIVALS_START)}'
        )
        events = _rows(event)
        if events:
            epoch = int(events[0][1]["time"])
    except QueryError:
        pass  # no runs policy: the first sampled second is the epoch
    return ArrivalSpan(epoch_ns=epoch, last_ns=int(last_rows[0][1]["time"]))


def read_plan(client: InfluxClient, run_id: str, runs_rp: str = "runs") -> LoadPlan | None:
    """The load asked for: the ``load_plan`` point the listener wrote at the test's start, else the
    ``run`` point ``harness run`` wrote; None when neither holds one."""
    from harness.arrivals.plan import LoadPlan

    for measurement in ("load_plan", "run"):
        try:
            (result,) = client.query_results(
                f"SELECT * FROM {run_data_source(runs_rp, measurement)} "
                f'WHERE "run_id" = {quote_string(run_id)}'
            )
        except QueryError:
            continue
        rows = _rows(result)
        if rows and rows[-1][1].get("load_model") == "arrival":
            return LoadPlan.from_fields(rows[-1][1])
    return None


def read_load(
    client: InfluxClient,
    run_id: str,
    *,
    first_ns: int,
    start_ns: int,
    load_end_ns: int,
    span: ArrivalSpan,
    window_s: float,
    key_requests: dict[str, tuple[str, str]],
    plan: LoadPlan | None = None,
    pool_users: int | None = None,
    source: str = "requests",
) -> dict[str, ApiLoad]:
    """Every full window from ``start_ns`` up to ``load_end_ns`` (the stop request), for every API
    the plan gives a rate (or, without a plan, that stored arrivals). ``first_ns`` (the run's first
    request) is where window times are counted from; ``pool_users`` is the pool (all workers)."""
    window_ns = int(window_s) * SECOND_NS
    count = max(0, (load_end_ns - start_ns) // window_ns)
    end_ns = start_ns + count * window_ns
    run = f'"run_id" = {quote_string(run_id)}'
    exact = f"time >= {start_ns} AND time < {end_ns}"
    shifted = f"time >= {start_ns + HALF_SECOND_NS} AND time < {end_ns + HALF_SECOND_NS}"

    def group(offset_ns: int) -> str:
        return f"time({int(window_s)}s, {(offset_ns // 1000) % (window_ns // 1000)}u)"

    keys = " OR ".join(
        f'("method" = {quote_string(m)} AND "name" = {quote_string(n)})' for m, n in key_requests.values()
    )
    # Sketch runs: the same counts and maxima from the per-second points (their seconds start on the
    # first arrival's grid, so the windows hold whole seconds).
    sketched = source == "sketches"
    counted = (
        'sum("count") AS "requests" FROM "request_sketch"'
        if sketched
        else 'count("response_time") AS "requests" FROM "request"'
    )
    slowest_of = (
        'max("max") AS "slowest" FROM "request_sketch"'
        if sketched
        else 'max("response_time") AS "slowest" FROM "request"'
    )
    arrivals, generator, requests, answers, workers = client.query_results(
        f'SELECT sum("target_per_s") AS "target_sum", count("target_per_s") AS "points", '
        f'sum("scheduled") AS "scheduled", sum("started") AS "started", sum("late") AS "late", '
        f'sum("dropped") AS "dropped", max("max_lag_ms") AS "max_lag_ms" FROM "arrivals" '
        f'WHERE {run} AND {shifted} GROUP BY {group(start_ns + HALF_SECOND_NS)}, "api" fill(none); '
        f'SELECT max("cpu_percent") AS "cpu", max("loop_lag_ms") AS "lag" FROM "users" '
        f"WHERE {run} AND {shifted} GROUP BY {group(start_ns + HALF_SECOND_NS)} fill(none); "
        f"SELECT {counted} WHERE {run} AND {exact} AND ({keys}) "
        f'GROUP BY {group(start_ns)}, "method", "name" fill(0); '
        # Answers started up to a window's end can hold users in it, from however far back.
        f"SELECT {slowest_of} WHERE {run} AND time >= {first_ns} "
        f'AND time < {end_ns} GROUP BY time(1s), "api" fill(none); '
        f'SHOW TAG VALUES FROM "arrivals" WITH KEY = "worker" WHERE {run}'
    )

    points = {(tags["api"], int(row["time"]) - HALF_SECOND_NS): row for tags, row in _rows(arrivals)}
    state = {int(row["time"]) - HALF_SECOND_NS: row for _, row in _rows(generator)}
    key_counts = {
        (endpoint_key(tags["method"], tags["name"]), int(row["time"])): int(row["requests"])
        for tags, row in _rows(requests)
    }
    slowest: dict[str, list[tuple[int, float]]] = {}
    for tags, row in _rows(answers):
        slowest.setdefault(tags["api"], []).append((int(row["time"]), float(row["slowest"])))
    n_workers = max(1, len(_rows(workers)))

    apis = list(plan.apis) if plan is not None else sorted({api for api, _ in points})
    loads = {}
    for api in apis:
        curve = plan.curve(api) if plan is not None else None
        key = endpoint_key(*key_requests[api]) if api in key_requests else None
        windows = []
        for k in range(count):
            w_start = start_ns + k * window_ns
            row = points.get((api, w_start), {})
            st = state.get(w_start, {})
            if curve is not None:
                asked = curve.cumulative((w_start + window_ns - span.epoch_ns) / 1e9) - curve.cumulative(
                    (w_start - span.epoch_ns) / 1e9
                )
                target = asked / window_s
            else:  # no plan stored: each worker's share as it reported it, summed over workers
                target = float(row.get("target_sum") or 0) / max(row.get("points") or 1, 1) * n_workers
            windows.append(
                LoadWindow(
                    start_s=round((w_start - first_ns) / 1e9, 3),
                    end_s=round((w_start + window_ns - first_ns) / 1e9, 3),
                    target_per_s=target,
                    scheduled=int(row.get("scheduled") or 0),
                    started=int(row.get("started") or 0),
                    late=int(row.get("late") or 0),
                    dropped=int(row.get("dropped") or 0),
                    requests=key_counts.get((key, w_start), 0) if key else None,
                    max_lag_ms=row.get("max_lag_ms"),
                    cpu_max_percent=st.get("cpu"),
                    loop_lag_max_ms=st.get("lag"),
                    pool_users=pool_users,
                    slowest_in_flight_ms=_slowest_in_flight(
                        slowest.get(api, []), w_start, w_start + window_ns
                    ),
                )
            )
        lags = [w.max_lag_ms for w in windows if w.max_lag_ms is not None]
        loads[api] = ApiLoad(
            api=api,
            target_per_s=(
                sum(w.target_per_s for w in windows) / len(windows)
                if windows
                else (curve.rate_at((start_ns - span.epoch_ns) / 1e9) if curve else 0.0)
            ),
            windows=windows,
            scheduled=sum(w.scheduled for w in windows),
            started=sum(w.started for w in windows),
            late=sum(w.late for w in windows),
            dropped=sum(w.dropped for w in windows),
            max_lag_ms=max(lags) if lags else None,
            defining=key,
            poisson=plan is not None and plan.arrivals == "poisson",
        )
    return loads


def _slowest_in_flight(seconds: list[tuple[int, float]], start_ns: int, end_ns: int) -> float | None:
    """The slowest answer started before ``end_ns`` that may still have been open at ``start_ns``:
    per second of starts, its slowest answer, counted from the second's end (the latest start)."""
    held = [ms for t, ms in seconds if t < end_ns and t + SECOND_NS + ms * 1e6 > start_ns]
    return max(held) if held else None


def read_scheduled_latency(
    client: InfluxClient, where: str, concurrently: Callable[[InfluxClient, list[str]], list[dict[str, Any]]]
) -> tuple[dict[str, Latency], dict[str, Latency]]:
    """p50, p95, p99 and max of ``scheduled_response_time`` per endpoint and per API group, exact
    (InfluxDB's PERCENTILE over every raw point), for the requests that carry it."""

    def statements(group: str) -> list[str]:
        base = f'FROM "request" WHERE {where} GROUP BY {group}'
        return [
            f'SELECT percentile("{SCHEDULED}", 50) AS "p50", max("{SCHEDULED}") AS "max" {base}',
            f'SELECT percentile("{SCHEDULED}", 95) AS "p95" {base}',
            f'SELECT percentile("{SCHEDULED}", 99) AS "p99" {base}',
        ]

    by_endpoint, by_api = '"api", "method", "name"', '"api"'
    results = concurrently(client, statements(by_endpoint) + statements(by_api))
    endpoints: dict[str, dict[str, Any]] = {}
    apis: dict[str, dict[str, Any]] = {}
    for i, result in enumerate(results):
        for tags, row in _rows(result):
            if i < 3:
                endpoints.setdefault(endpoint_key(tags["method"], tags["name"]), {}).update(row)
            else:
                apis.setdefault(tags["api"], {}).update(row)

    def latency(row: dict[str, Any]) -> Latency | None:
        if row.get("max") is None:
            return None
        return Latency(p50=row.get("p50"), p95=row.get("p95"), p99=row.get("p99"), max=row["max"])

    return (
        {k: lat for k, row in endpoints.items() if (lat := latency(row)) is not None},
        {k: lat for k, row in apis.items() if (lat := latency(row)) is not None},
    )

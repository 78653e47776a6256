"""What a user checks after an arrival-model run, read from the stored points: the key request's
count in every full window from the first arrival to the stop, and the stored counters."""

from __future__ import annotations

from harness.influx.client import InfluxClient


def event_ns(client: InfluxClient, run_id: str, kind: str) -> int:
    rows = client.query(
        f'SELECT "title" FROM "runs"."events" WHERE "run_id" = \'{run_id}\' AND "type" = \'{kind}\''
    )
    assert rows, f"no {kind} event for run {run_id}"
    return int(rows[0]["values"][0][0])


def window_rates(
    client: InfluxClient,
    run_id: str,
    method: str,
    name: str,
    *,
    window_s: float = 10,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> list[float]:
    """Stored requests per second of one endpoint in every full window from the first arrival
    (the arrivals_start event) to the moment the users were told to stop (the stopping event)."""
    start = start_ns if start_ns is not None else event_ns(client, run_id, "arrivals_start")
    end = end_ns if end_ns is not None else event_ns(client, run_id, "stopping")
    step = int(window_s * 1e9)
    bounds = [(a, a + step) for a in range(start, end - step + 1, step)]
    assert bounds, "the run had no full window"
    where = f"\"run_id\" = '{run_id}' AND \"method\" = '{method}' AND \"name\" = '{name}'"
    statements = "; ".join(
        f'SELECT count("response_time") FROM "request" WHERE {where} AND time >= {a} AND time < {b}'
        for a, b in bounds
    )
    results = client.query_results(statements)
    counts = [r["series"][0]["values"][0][1] if r.get("series") else 0 for r in results]
    return [count / window_s for count in counts]


def arrival_totals(client: InfluxClient, run_id: str, api: str) -> dict[str, float]:
    rows = client.query(
        f'SELECT sum("scheduled"), sum("started"), sum("late"), sum("dropped"), max("max_lag_ms") '
        f'FROM "arrivals" WHERE "run_id" = \'{run_id}\' AND "api" = \'{api}\''
    )
    assert rows, f"no arrivals points for {api} in run {run_id}"
    values = rows[0]["values"][0][1:]
    return dict(zip(("scheduled", "started", "late", "dropped", "max_lag_ms"), values))

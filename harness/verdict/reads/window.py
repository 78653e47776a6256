"""The figures of one stretch of time: what the live checks judge every few seconds, and what the
checker judges again, on the complete stored points, after an abort (decide/window.py judges them).

The numbers come from the same queries as the verdict's (``measure.window_stats``) restricted
to the window.
"""

from __future__ import annotations

from datetime import datetime, timezone

from harness.apis import endpoint_key
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import REQUEST, USERS
from harness.verdict.model import CPU, Measurements, WindowFigures
from harness.verdict.reads.measure import sketch_window_stats, window_stats


def measure_window(
    client: InfluxClient,
    run_id: str,
    start_ns: int,
    end_ns: int,
    checks: tuple[str, ...],
    test_env: str = "",
    limits: tuple[float, ...] = (),
    source: str = "requests",
) -> WindowFigures:
    """The stored points of ``[start_ns, end_ns]``, with only the percentiles ``checks`` name: an
    exact percentile is a pass over the window's points, so a check that is not asked for costs
    nothing. The statements go in one request: a short window is cheap, and one request is what a
    gevent process can bound with a timeout. ``limits``: latency limits whose slower requests are
    counted per scope (the exact test of a pXX limit), in a second request."""
    percentiles = tuple(int(c[1:]) for c in checks if c in ("p50", "p95", "p99"))
    where = f'"run_id" = {quote_string(run_id)} AND time >= {start_ns} AND time <= {end_ns}'
    duration_s = max((end_ns - start_ns) / 1e9, 1e-9)
    slow: dict[tuple[str, float], int] = {}
    if source == "sketches":  # the workers' per-second points: whole seconds starting in the window
        endpoints, apis, slow = sketch_window_stats(client, run_id, start_ns, end_ns, duration_s, limits)
    else:
        endpoints, apis = window_stats(
            client,
            where,
            duration_s,
            endpoint_percentiles=percentiles,
            api_percentiles=percentiles,
            concurrent=False,
        )
    cpu: dict[str, tuple[float, int]] = {}
    if CPU in checks:
        for series in client.query(
            f'SELECT min("cpu_percent"), count("cpu_percent") FROM "{USERS.name}" '
            f'WHERE {where} GROUP BY "worker"'
        ):
            _, lowest, samples = series["values"][0]
            if lowest is not None:
                cpu[series["tags"]["worker"]] = (float(lowest), int(samples))
    if limits and source != "sketches":
        slow = _slow_counts(client, where, limits)
    measured = Measurements(
        run_id=run_id,
        test_env=test_env,
        start=datetime.fromtimestamp(start_ns / 1e9, timezone.utc),
        end=datetime.fromtimestamp(end_ns / 1e9, timezone.utc),
        duration_s=duration_s,
        warmup_s=0.0,
        endpoints=endpoints,
        apis=apis,
        generation_target=0.0,
    )  # throughput is not a window check
    return WindowFigures(start_ns, end_ns, measured, cpu, slow, tuple(limits))


def _slow_counts(client: InfluxClient, where: str, limits: tuple[float, ...]) -> dict[tuple[str, float], int]:
    """Per endpoint and API group, the requests slower than each limit (``"response_time" > L``)."""
    statements = []
    for limit in limits:
        for group in ('"api", "method", "name"', '"api"'):
            statements.append(
                f'SELECT count("response_time") AS "slow" FROM "{REQUEST.name}" WHERE {where} '
                f'AND "response_time" > {limit!r} GROUP BY {group}'
            )
    out: dict[tuple[str, float], int] = {}
    for i, result in enumerate(client.query_results("; ".join(statements))):
        limit = limits[i // 2]
        for series in result.get("series", []):
            tags = series.get("tags") or {}
            scope = endpoint_key(tags["method"], tags["name"]) if "method" in tags else f"api:{tags['api']}"
            out[(scope, limit)] = int(series["values"][0][1] or 0)
    return out

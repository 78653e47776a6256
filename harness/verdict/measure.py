"""The thin InfluxQL layer under the verdict: read one run's raw points into ``Measurements``.

Every number comes from InfluxDB over all workers' raw points — percentiles exactly as
``PERCENTILE()`` gives them — never from Locust's bucketed in-memory stats.
"""

from __future__ import annotations

from datetime import datetime, timezone

from harness.apis import endpoint_key
from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_ident, quote_string
from harness.verdict.model import Completeness, EndpointStats, Measurements, Stats

GENERATION_CREATE = ("POST", "/api/v1/generations")

STATS_SELECT = ('count("response_time") AS "requests", percentile("response_time", 50) AS "p50", '
                'percentile("response_time", 95) AS "p95", percentile("response_time", 99) AS "p99", '
                'max("response_time") AS "max"')


def _rows(series: list[dict]) -> list[tuple[dict, dict]]:
    """(tags, {column: value}) per row of every series."""
    out = []
    for s in series:
        for values in s.get("values", []):
            out.append((s.get("tags", {}) or {}, dict(zip(s["columns"], values))))
    return out


def run_bounds(client: InfluxClient, run_id: str) -> tuple[int, int, int]:
    """(first point ns, last point ns, stored points) of the run's requests."""
    where = f'"run_id" = {quote_string(run_id)}'
    results = client.query_results(
        f'SELECT first("response_time") FROM "request" WHERE {where}; '
        f'SELECT last("response_time") FROM "request" WHERE {where}; '
        f'SELECT count("response_time") FROM "request" WHERE {where}')
    values = [r["series"][0]["values"][0] if r.get("series") else None for r in results]
    if values[0] is None:
        raise HarnessError(f"run {run_id!r} has no request points in database "
                           f"{client.settings.database!r} at {client.settings.url}")
    return int(values[0][0]), int(values[1][0]), int(values[2][1])


def _stats(row: dict, failures: int, duration_s: float) -> dict:
    requests = int(row["requests"])
    return dict(requests=requests, failures=failures,
                success_rate=100.0 * (requests - failures) / requests if requests else None,
                p50=row["p50"], p95=row["p95"], p99=row["p99"], max=row["max"],
                rps=requests / duration_s if duration_s > 0 else 0.0)


def counted_by_harness(client: InfluxClient, run_id: str, runs_rp: str) -> int | None:
    """Locust's own request count, stored in the ``run`` point by ``harness run`` after Locust
    exited: a cross-check that does not depend on the listeners' counts reaching InfluxDB."""
    source = f'{quote_ident(runs_rp)}."run"' if runs_rp else '"run"'
    rows = _rows(client.query(f'SELECT last("requests_counted") FROM {source} '
                              f'WHERE "run_id" = {quote_string(run_id)}'))
    return int(rows[0][1]["last"]) if rows and rows[0][1]["last"] is not None else None


def read_completeness(client: InfluxClient, run_id: str, stored: int,
                      counted: int | None = None) -> Completeness | None:
    """The listeners' summed counts against the stored points. When the harness also knows
    Locust's own count, the larger of the two is what must be stored: a listener whose final
    counts never reached InfluxDB must not make a run look complete."""
    series = client.query(
        'SELECT last("seen") AS "seen", last("dropped") AS "dropped", last("spooled") AS "spooled" '
        f'FROM "listener_stats" WHERE "run_id" = {quote_string(run_id)} GROUP BY "worker"')
    rows = _rows(series)
    if not rows:
        return None
    total = lambda key: sum(int(r.get(key) or 0) for _, r in rows)  # noqa: E731
    return Completeness(seen=max(total("seen"), counted or 0), stored=stored, dropped=total("dropped"),
                        spooled=total("spooled"), workers=len(rows))


def measure(client: InfluxClient, run_id: str, *, warmup_s: float,
            generation_target: float | None = None, runs_rp: str = "runs") -> Measurements:
    first_ns, last_ns, stored = run_bounds(client, run_id)
    start_ns = first_ns + int(warmup_s * 1e9)
    end_ns = last_ns
    warnings: list[str] = []
    if start_ns >= end_ns:
        warnings.append(f"the run lasted {(last_ns - first_ns) / 1e9:.1f} s, not longer than the "
                        f"{warmup_s:g} s warm-up: judging the whole run")
        start_ns = first_ns
    duration_s = max((end_ns - start_ns) / 1e9, 1e-9)
    window = f'"run_id" = {quote_string(run_id)} AND time >= {start_ns} AND time <= {end_ns}'
    endpoint_rows, api_rows, endpoint_failures, api_failures, cpu = client.query_results(
        f'SELECT {STATS_SELECT} FROM "request" WHERE {window} GROUP BY "api", "method", "name"; '
        f'SELECT {STATS_SELECT} FROM "request" WHERE {window} GROUP BY "api"; '
        f'SELECT count("response_time") FROM "request" WHERE {window} AND "result" = \'fail\' '
        f'GROUP BY "api", "method", "name"; '
        f'SELECT count("response_time") FROM "request" WHERE {window} AND "result" = \'fail\' GROUP BY "api"; '
        f'SELECT max("cpu_percent") FROM "users" WHERE "run_id" = {quote_string(run_id)}')

    failed_by_endpoint = {(t["api"], t["method"], t["name"]): int(r["count"])
                          for t, r in _rows(endpoint_failures.get("series", []))}
    failed_by_api = {t["api"]: int(r["count"]) for t, r in _rows(api_failures.get("series", []))}

    endpoints: dict[str, EndpointStats] = {}
    for tags, row in _rows(endpoint_rows.get("series", [])):
        key = endpoint_key(tags["method"], tags["name"])
        failures = failed_by_endpoint.get((tags["api"], tags["method"], tags["name"]), 0)
        endpoints[key] = EndpointStats(key=key, api=tags["api"], **_stats(row, failures, duration_s))
    apis = {tags["api"]: Stats(**_stats(row, failed_by_api.get(tags["api"], 0), duration_s))
            for tags, row in _rows(api_rows.get("series", []))}

    generation_rate = None
    create = endpoints.get(endpoint_key(*GENERATION_CREATE))
    if create is not None:
        generation_rate = (create.requests - create.failures) / duration_s

    cpu_rows = _rows(cpu.get("series", []))
    test_env = _test_env(client, run_id)
    return Measurements(
        run_id=run_id, test_env=test_env,
        start=datetime.fromtimestamp(start_ns / 1e9, timezone.utc),
        end=datetime.fromtimestamp(end_ns / 1e9, timezone.utc),
        duration_s=duration_s, warmup_s=warmup_s, endpoints=endpoints, apis=apis,
        generation_rate=generation_rate, generation_target=generation_target,
        completeness=read_completeness(client, run_id, stored, counted_by_harness(client, run_id, runs_rp)),
        cpu_max_percent=cpu_rows[0][1]["max"] if cpu_rows else None, warnings=warnings)


def _test_env(client: InfluxClient, run_id: str) -> str:
    series = client.query(f'SHOW TAG VALUES FROM "request" WITH KEY = "test_env" '
                          f'WHERE "run_id" = {quote_string(run_id)}', epoch="")
    values = [row[1] for s in series for row in s.get("values", [])]
    return values[0] if values else ""


def find_last_passing_run(client: InfluxClient, test_env: str, runs_rp: str, exclude: str) -> str | None:
    """The newest run of ``test_env`` whose stored verdict was pass (for ``--baseline last-pass``)."""
    source = f'{quote_ident(runs_rp)}."run_summary"' if runs_rp else '"run_summary"'
    series = client.query(
        f'SELECT last("requests") FROM {source} WHERE "test_env" = {quote_string(test_env)} '
        f'AND "verdict" = \'pass\' AND "run_id" != {quote_string(exclude)} GROUP BY "run_id"')
    newest = sorted(((r["time"], t["run_id"]) for t, r in _rows(series)), reverse=True)
    return newest[0][1] if newest else None

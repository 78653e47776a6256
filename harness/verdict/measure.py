"""The thin InfluxQL layer under the verdict: read one run's raw points into ``Measurements``.

Every number comes from InfluxDB over all workers' raw points, read once (``samples.py``);
percentiles are computed from them exactly as ``PERCENTILE()`` gives them (nearest rank),
never taken from Locust's bucketed in-memory stats.
"""

from __future__ import annotations

from datetime import datetime, timezone

from harness.apis import endpoint_key
from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_ident, quote_string
from harness.verdict.estimate import stats_of
from harness.verdict.model import Completeness, EndpointStats, Measurements, Stats
from harness.verdict.samples import Samples, read_samples
from harness.verdict.thresholds import Regression

GENERATION_CREATE = ("POST", "/api/v1/generations")
# The raw values are read as this many time slices at once: InfluxDB 1.x encodes one answer on
# one core, so two requests use both (bench/README.md, "Check over 1,000,000 points").
READ_PARTS = 2


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


def counted_by_harness(client: InfluxClient, run_id: str, runs_rp: str) -> int | None:
    """Locust's own request count, stored in the ``run`` point by ``harness run`` after Locust
    exited: a cross-check that does not depend on the listeners' counts reaching InfluxDB."""
    source = f'{quote_ident(runs_rp)}."run"' if runs_rp else '"run"'
    rows = _rows(client.query(f'SELECT last("requests_counted") FROM {source} '
                              f'WHERE "run_id" = {quote_string(run_id)}'))
    return int(rows[0][1]["last"]) if rows and rows[0][1]["last"] is not None else None


def stopping_time(client: InfluxClient, run_id: str, runs_rp: str, start_ns: int, end_ns: int) -> int:
    """When the run's users were told to stop (its ``stopping`` event), within the window; the
    window's end when the run has no such event (a listener older than the event)."""
    source = f'{quote_ident(runs_rp)}."events"' if runs_rp else '"events"'
    rows = _rows(client.query(f'SELECT first("title") FROM {source} WHERE "run_id" = {quote_string(run_id)} '
                              f'AND "type" = \'stopping\''))
    stopping = int(rows[0][1]["time"]) if rows else end_ns
    return stopping if start_ns < stopping < end_ns else end_ns


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


def judged_window(first_ns: int, last_ns: int, warmup_s: float) -> tuple[int, int, list[str]]:
    """(start, end) in ns, both included: from the first request + the warm-up to the last
    request; the whole run when it was not longer than the warm-up (with a warning)."""
    start_ns = first_ns + int(warmup_s * 1e9)
    if start_ns >= last_ns:
        return first_ns, last_ns, [f"the run lasted {(last_ns - first_ns) / 1e9:.1f} s, not longer than the "
                                   f"{warmup_s:g} s warm-up: judging the whole run"]
    return start_ns, last_ns, []


def measure(client: InfluxClient, run_id: str, *, warmup_s: float, generation_target: float | None = None,
            runs_rp: str = "runs", windows: int = Regression.windows) -> Measurements:
    """Every endpoint and API group gets requests, failures, success rate, p50, p95, p99, max and
    rps, and the per-window spread of p50/p95/p99/success rate over at most ``windows`` windows."""
    first_ns, last_ns, stored = run_bounds(client, run_id)
    start_ns, end_ns, warnings = judged_window(first_ns, last_ns, warmup_s)
    duration_s = max((end_ns - start_ns) / 1e9, 1e-9)
    samples = read_samples(client, run_id, start_ns, end_ns, parts=READ_PARTS)

    endpoints: dict[str, EndpointStats] = {}
    by_api: dict[str, list[Samples]] = {}
    for (api, method, name), scope in samples.items():
        key = endpoint_key(method, name)
        endpoints[key] = EndpointStats(key=key, api=api, **stats_of(scope, duration_s, windows))
        by_api.setdefault(api, []).append(scope)
    apis = {api: Stats(**stats_of(parts[0] if len(parts) == 1 else Samples.joined(parts), duration_s, windows))
            for api, parts in by_api.items()}

    generation_rate = None
    create = endpoints.get(endpoint_key(*GENERATION_CREATE))
    if create is not None:
        # Creations stop when the users are told to stop; the polls of the last flows go on
        # for up to a flow's length after that, so the rate is taken up to the stop request.
        load_end_ns = stopping_time(client, run_id, runs_rp, start_ns, end_ns)
        generation_rate = (create.requests - create.failures) / max((load_end_ns - start_ns) / 1e9, 1e-9)

    cpu = _rows(client.query(f'SELECT max("cpu_percent") FROM "users" WHERE "run_id" = {quote_string(run_id)}'))
    return Measurements(
        run_id=run_id, test_env=_test_env(client, run_id),
        start=datetime.fromtimestamp(start_ns / 1e9, timezone.utc),
        end=datetime.fromtimestamp(end_ns / 1e9, timezone.utc),
        duration_s=duration_s, warmup_s=warmup_s, endpoints=endpoints, apis=apis,
        generation_rate=generation_rate, generation_target=generation_target,
        completeness=read_completeness(client, run_id, stored, counted_by_harness(client, run_id, runs_rp)),
        cpu_max_percent=cpu[0][1]["max"] if cpu else None, warnings=warnings, start_ns=start_ns, end_ns=end_ns)


def _test_env(client: InfluxClient, run_id: str) -> str:
    series = client.query(f'SHOW TAG VALUES FROM "request" WITH KEY = "test_env" '
                          f'WHERE "run_id" = {quote_string(run_id)}', epoch="")
    values = [row[1] for s in series for row in s.get("values", [])]
    return values[0] if values else ""

"""The thin InfluxQL layer under the verdict: read one run's raw points into ``Measurements``.

Every number comes from InfluxDB over all workers' raw points, read once (``samples.py``);
percentiles are computed from them exactly as ``PERCENTILE()`` gives them (nearest rank), never
taken from Locust's bucketed in-memory stats. ``window_stats`` asks InfluxDB for them instead, for
the live checks' short windows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import numpy as np

from harness.apis import endpoint_key
from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import (
    EVENT_SPAWN_COMPLETE,
    EVENT_STOPPING,
    EVENTS,
    RUN,
    peak_users_statement,
    run_data_source,
)
from harness.verdict.decide import sketch_stats as sks
from harness.verdict.decide.estimate import percentiles, stats_of
from harness.verdict.model import Completeness, EndpointStats, Latency, Measurements, Samples, Stats
from harness.verdict.reads import sketches as sk
from harness.verdict.reads.measure_load import SCHEDULED, arrival_span, read_load, read_plan
from harness.verdict.reads.samples import LATENCY_FIELDS, read_samples
from harness.verdict.rules.thresholds import Regression

GENERATION_CREATE = ("POST", "/api/v1/generations")
SECOND_NS = 1_000_000_000
# The raw values are read as this many time slices at once: InfluxDB 1.x encodes one answer on
# one core, so two requests use both (bench/README.md, "Check over 1,000,000 points").
READ_PARTS = 2


def _rows(series: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
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
        f'SELECT count("response_time") FROM "request" WHERE {where}'
    )
    values: list[Any] = [r["series"][0]["values"][0] if r.get("series") else None for r in results]
    if values[0] is None:
        raise HarnessError(
            f"run {run_id!r} has no request points in database "
            f"{client.settings.database!r} at {client.settings.url}"
        )
    return int(values[0][0]), int(values[1][0]), int(values[2][1])


def _stats(row: dict[str, Any], duration_s: float) -> dict[str, Any]:
    requests, failures = int(row["requests"]), int(row.get("failures") or 0)
    return dict(
        requests=requests,
        failures=failures,
        success_rate=100.0 * (requests - failures) / requests if requests else None,
        p50=row.get("p50"),
        p95=row.get("p95"),
        p99=row.get("p99"),
        max=row["max"],
        rps=requests / duration_s if duration_s > 0 else 0.0,
    )


def counted_by_harness(client: InfluxClient, run_id: str, runs_rp: str) -> int | None:
    """Locust's own request count, stored in the ``run`` point by ``harness run`` after Locust
    exited: a cross-check that does not depend on the listeners' counts reaching InfluxDB."""
    rows = _rows(
        client.query(
            f'SELECT last("requests_counted") FROM {run_data_source(runs_rp, RUN)} '
            f'WHERE "run_id" = {quote_string(run_id)}'
        )
    )
    return int(rows[0][1]["last"]) if rows and rows[0][1]["last"] is not None else None


def _larger(a: int | None, b: int | None) -> int | None:
    known = [v for v in (a, b) if v is not None]
    return max(known) if known else None


def event_time(client: InfluxClient, run_id: str, runs_rp: str, kind: str) -> int | None:
    """When the run's first event of this type (``stopping``, ``spawn_complete``, …) happened."""
    rows = _rows(
        client.query(
            f'SELECT first("title") FROM {run_data_source(runs_rp, EVENTS)} WHERE "run_id" = {quote_string(run_id)} '
            f'AND "type" = {quote_string(kind)}'
        )
    )
    return int(rows[0][1]["time"]) if rows else None


def stopping_time(client: InfluxClient, run_id: str, runs_rp: str, start_ns: int, end_ns: int) -> int:
    """When the run's users were told to stop (its ``stopping`` event), within the window; the
    window's end when the run has no such event (a listener older than the event)."""
    stopping = event_time(client, run_id, runs_rp, EVENT_STOPPING)
    return stopping if stopping is not None and start_ns < stopping < end_ns else end_ns


def read_completeness(
    client: InfluxClient, run_id: str, stored: int, counted: int | None = None
) -> Completeness | None:
    """The listeners' summed counts against the stored points. When the harness also knows
    Locust's own count, the larger of the two is what must be stored: a listener whose final
    counts never reached InfluxDB must not make a run look complete. A process whose latest
    counts are not marked final stopped without counting its last requests: it is named."""
    where = f'"run_id" = {quote_string(run_id)}'
    stats, quarantine = client.query_results(
        'SELECT last("seen") AS "seen", last("dropped") AS "dropped", last("spooled") AS "spooled", '
        f'last("final") AS "final" FROM "listener_stats" WHERE {where} GROUP BY "worker"; '
        f'SELECT sum("request_points") FROM "quarantine" WHERE {where}'
    )
    rows = _rows(stats.get("series", []))
    if not rows:
        return None

    def total(key: str) -> int:
        return sum(int(r.get(key) or 0) for _, r in rows)

    quarantined = _rows(quarantine.get("series", []))
    return Completeness(
        seen=max(total("seen"), counted or 0),
        stored=stored,
        dropped=total("dropped"),
        spooled=total("spooled"),
        workers=len(rows),
        lost_workers=tuple(sorted(tags.get("worker", "") for tags, r in rows if r.get("final") is not True)),
        quarantined=int(quarantined[0][1]["sum"] or 0) if quarantined else 0,
    )


def _concurrently(client: InfluxClient, statements: list[str]) -> list[dict[str, Any]]:
    """Each statement as its own request, all at once, one result each.

    On InfluxDB 1.x every percentile() is a full pass over the run's points; sent together in
    one request they run one after another, sent apart they use every core InfluxDB has
    (bench/README.md: 6.6x the raw percentile query in one request, 3.2x apart)."""

    def one(statement: str) -> dict[str, Any]:
        # A client (and so a requests session) per thread: sessions are not thread-safe.
        return InfluxClient(client.settings).query_results(statement)[0]

    with ThreadPoolExecutor(max_workers=len(statements)) as pool:
        return list(pool.map(one, statements))


def _merge(
    results: list[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows of several results, joined by their tags."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for result in results:
        for tags, row in _rows(result.get("series", [])):
            merged.setdefault(key(tags), {"tags": tags}).update(row)
    return merged


def _percentile_statement(p: int, where: str, group: str) -> str:
    return f'SELECT percentile("response_time", {p}) AS "p{p}" FROM "request" WHERE {where} GROUP BY {group}'


def window_stats(
    client: InfluxClient,
    window: str,
    duration_s: float,
    *,
    endpoint_percentiles: tuple[int, ...] = (50, 95, 99),
    api_percentiles: tuple[int, ...] = (95,),
    concurrent: bool = True,
) -> tuple[dict[str, EndpointStats], dict[str, Stats]]:
    """Per endpoint and per API group: requests, failures, max and the given exact percentiles of
    the points matching ``window`` (an InfluxQL condition). ``concurrent`` sends the percentile
    passes as separate requests (whole runs); the live checks' short windows go in one request."""
    by_endpoint, by_api = '"api", "method", "name"', '"api"'
    counts = 'count("response_time") AS "requests", max("response_time") AS "max"'
    # The median rides with the counts, as one pass fewer over the points.
    median = ', percentile("response_time", 50) AS "p50"' if 50 in endpoint_percentiles else ""
    others = sorted(set(endpoint_percentiles) - {50})
    heavy = (
        [f'SELECT {counts}{median} FROM "request" WHERE {window} GROUP BY {by_endpoint}']
        + [_percentile_statement(p, window, by_endpoint) for p in others]
        + [f'SELECT {counts} FROM "request" WHERE {window} GROUP BY {by_api}']
        + [_percentile_statement(p, window, by_api) for p in sorted(set(api_percentiles))]
    )
    light = [
        f'SELECT count("response_time") AS "failures" FROM "request" WHERE {window} AND "result" = \'fail\' '
        f"GROUP BY {group}"
        for group in (by_endpoint, by_api)
    ]
    if concurrent:
        results = _concurrently(client, heavy) + client.query_results("; ".join(light))
    else:
        results = client.query_results("; ".join(heavy + light))
    n_endpoint = 1 + len(others)
    endpoint_tags = lambda t: (t["api"], t["method"], t["name"])  # noqa: E731
    endpoint_rows = _merge(results[:n_endpoint] + [results[-2]], endpoint_tags)
    api_rows = _merge(results[n_endpoint : len(heavy)] + [results[-1]], lambda t: t["api"])

    endpoints: dict[str, EndpointStats] = {}
    for row in endpoint_rows.values():
        if "requests" not in row:
            continue
        key = endpoint_key(row["tags"]["method"], row["tags"]["name"])
        endpoints[key] = EndpointStats(key=key, api=row["tags"]["api"], **_stats(row, duration_s))
    apis = {
        row["tags"]["api"]: Stats(**_stats(row, duration_s)) for row in api_rows.values() if "requests" in row
    }
    return endpoints, apis


def sketch_window_stats(
    client: InfluxClient,
    run_id: str,
    start_ns: int,
    end_ns: int,
    duration_s: float,
    limits: tuple[float, ...] = (),
) -> tuple[dict[str, EndpointStats], dict[str, Stats], dict[tuple[str, float], int]]:
    """``window_stats`` from the sketches of the seconds starting in the window (no spread: a live
    check judges absolute limits), and per endpoint and API group the requests slower than each of
    ``limits`` (to the sketch's accuracy: ``sketch_stats.slower_than``)."""
    scopes = sk.read_sketches(client, run_id, start_ns, end_ns, parts=1)
    endpoints, apis, _, _ = _sketch_scopes(scopes, duration_s, 0, False)
    slow: dict[tuple[str, float], int] = {}
    by_api: dict[str, list[sks.SketchScope]] = {}
    for (api, method, name), scope in scopes.items():
        by_api.setdefault(api, []).append(scope)
        for limit in limits:
            slow[(endpoint_key(method, name), limit)] = sks.slower_than(scope, limit)
    for api, parts in by_api.items():
        for limit in limits:
            slow[(f"api:{api}", limit)] = sum(sks.slower_than(scope, limit) for scope in parts)
    return endpoints, apis, slow


def judged_window(
    first_ns: int, last_ns: int, warmup_s: float, arrivals_ns: int | None = None, grid: bool = False
) -> tuple[int, int, list[str]]:
    """(start, end) in ns, both included: from the first request (the first arrival in the arrival
    model, whose pool signs in before) + the warm-up to the last request; the whole run when it was
    not longer than the warm-up (with a warning).

    ``grid`` (the run stored sketches, one per second): the start moves on to the next second's
    start (seconds count from the first arrival in the arrival model), so the window holds whole
    seconds and both sources judge exactly the same requests (``harness check --from``)."""
    begin = arrivals_ns if arrivals_ns is not None else first_ns
    start_ns = begin + int(warmup_s * 1e9)
    if arrivals_ns is not None:
        # InfluxDB's GROUP BY time() offsets are whole microseconds: windows start on one.
        start_ns -= start_ns % 1000
    if grid:
        origin = (arrivals_ns or 0) % SECOND_NS // 1000 * 1000
        start_ns = -((origin - start_ns) // SECOND_NS) * SECOND_NS + origin
    if start_ns >= last_ns:
        return (
            begin,
            last_ns,
            [
                f"the run lasted {(last_ns - first_ns) / 1e9:.1f} s, not longer than the "
                f"{warmup_s:g} s warm-up: judging the whole run"
            ],
        )
    return start_ns, last_ns, []


def choose_source(client: InfluxClient, run_id: str, source: str | None) -> tuple[str, bool]:
    """The source the verdict reads (``requests`` when the run stored request points, else
    ``sketches``, unless asked) and whether the run stored sketches."""
    sketched = sk.has_sketches(client, run_id)
    has_requests = bool(
        client.query(f'SELECT last("response_time") FROM "request" WHERE "run_id" = {quote_string(run_id)}')
    )
    chosen = source or ("requests" if has_requests or not sketched else "sketches")
    if chosen == "sketches" and not sketched:
        raise HarnessError(
            f"run {run_id!r} stored no sketches (it was recorded with --influx-points requests): "
            f"use --from requests"
        )
    if chosen == "requests" and not has_requests and sketched:
        raise HarnessError(
            f"run {run_id!r} stored no request points (it was recorded with --influx-points "
            f"sketches): use --from sketches"
        )
    return chosen, sketched


def measure(
    client: InfluxClient,
    run_id: str,
    *,
    warmup_s: float,
    generation_target: float | None = None,
    runs_rp: str = "runs",
    window_s: float = 10.0,
    windows: int = Regression.windows,
    source: str | None = None,
    counted: int | None = None,
) -> Measurements:
    """Every endpoint and API group gets requests, failures, success rate, p50, p95, p99, max and
    rps, and the per-window spread of p50/p95/p99/success rate over at most ``windows`` windows,
    all from one read of the raw values (or of the sketches: ``source``, default the raw values
    when the run has them). ``counted``: Locust's own request count, when the caller knows it
    (completeness takes the larger of it and the one a ``run`` point stored).

    A run that stored ``arrivals`` points is in the arrival model: its judged window starts at the
    first arrival plus the warm-up (the pool signs in before), and it also gets its arrivals per
    ``window_s`` window and its latency from the scheduled start."""
    source, sketched = choose_source(client, run_id, source)
    if source == "sketches":
        bounds = sk.sketch_bounds(client, run_id)
        if bounds is None:
            raise HarnessError(
                f"run {run_id!r} has no sketch points in database {client.settings.database!r}"
            )
        first_ns, last_ns, stored = bounds
    else:
        first_ns, last_ns, stored = run_bounds(client, run_id)
    span = arrival_span(client, run_id, runs_rp)
    start_ns, end_ns, warnings = judged_window(
        first_ns, last_ns, warmup_s, span.epoch_ns if span else None, grid=sketched
    )
    duration_s = max((end_ns - start_ns) / 1e9, 1e-9)
    window = f'"run_id" = {quote_string(run_id)} AND time >= {start_ns} AND time <= {end_ns}'
    if source == "sketches":
        scopes = sk.read_sketches(client, run_id, start_ns, end_ns, scheduled=span is not None)
        endpoints, apis, scheduled, scheduled_apis = _sketch_scopes(
            scopes, duration_s, windows, span is not None
        )
    else:
        fields = LATENCY_FIELDS + (
            (SCHEDULED,) if span is not None and SCHEDULED not in LATENCY_FIELDS else ()
        )
        samples = read_samples(client, run_id, start_ns, end_ns, fields=fields, parts=READ_PARTS)
        endpoints, apis, scheduled, scheduled_apis = _scopes(
            samples, duration_s, windows, SCHEDULED in fields
        )
    cpu = client.query_results(
        f'SELECT max("cpu_percent") FROM "users" WHERE "run_id" = {quote_string(run_id)}'
    )[0]

    # Iterations stop when the users are told to stop; the requests of the last ones go on for
    # up to an iteration's length after that, so rates are taken up to the stop request.
    load_end_ns = stopping_time(client, run_id, runs_rp, start_ns, end_ns)
    generation_rate = None
    create = endpoints.get(endpoint_key(*GENERATION_CREATE))
    if create is not None and span is None:
        # The target is a rate of all users together: while they are still spawning it is not
        # asked for yet, so the rate counts from the later of the warm-up's end and the spawn's.
        spawned = event_time(client, run_id, runs_rp, EVENT_SPAWN_COMPLETE)
        rate_start = spawned if spawned is not None and start_ns < spawned < load_end_ns else start_ns
        if sketched and rate_start != start_ns:  # whole seconds, so both sources count the same requests
            rate_start = -(-rate_start // SECOND_NS) * SECOND_NS
        if rate_start == start_ns:
            created = create.requests - create.failures
        else:
            created = _ok_count(client, window, GENERATION_CREATE, rate_start, source)
        generation_rate = created / max((load_end_ns - rate_start) / 1e9, 1e-9)
    peak = peak_users(client, run_id, first_ns, end_ns + 1)
    arrival: dict[str, Any] = {}
    if span is not None:
        from harness.arrivals.plan import KEY_REQUEST

        # Without a stopping event the arrivals' last sample is the last second known to have had load.
        arrivals_end_ns = load_end_ns if load_end_ns < end_ns else min(end_ns, span.last_ns)
        arrival = dict(
            load_model="arrival",
            scheduled=scheduled,
            scheduled_apis=scheduled_apis,
            load=read_load(
                client,
                run_id,
                first_ns=first_ns,
                start_ns=start_ns,
                load_end_ns=arrivals_end_ns,
                span=span,
                window_s=window_s,
                key_requests=KEY_REQUEST,
                plan=read_plan(client, run_id, runs_rp),
                pool_users=peak,
                source=source,
            ),
        )

    cpu_rows = _rows(cpu.get("series", []))
    test_env = _test_env(client, run_id, sk.MEASUREMENT if source == "sketches" else "request")
    return Measurements(
        run_id=run_id,
        test_env=test_env,
        start=datetime.fromtimestamp(start_ns / 1e9, timezone.utc),
        end=datetime.fromtimestamp(end_ns / 1e9, timezone.utc),
        duration_s=duration_s,
        warmup_s=warmup_s,
        endpoints=endpoints,
        apis=apis,
        generation_rate=generation_rate,
        generation_target=generation_target,
        completeness=read_completeness(
            client, run_id, stored, _larger(counted, counted_by_harness(client, run_id, runs_rp))
        ),
        cpu_max_percent=cpu_rows[0][1]["max"] if cpu_rows else None,
        warnings=warnings,
        peak_users=peak,
        start_ns=start_ns,
        end_ns=end_ns,
        source=source,
        accuracy=sks.accuracy_note(source),
        **arrival,
    )


def _scopes(
    samples: dict[tuple[str, str, str], Samples],
    duration_s: float,
    windows: int,
    scheduled: bool,
) -> tuple[dict[str, EndpointStats], dict[str, Stats], dict[str, Latency], dict[str, Latency]]:
    """Stats per endpoint and API group, and the latency from the scheduled start where asked."""
    endpoints: dict[str, EndpointStats] = {}
    by_api: dict[str, list[Samples]] = {}
    for (api, method, name), scope in samples.items():
        key = endpoint_key(method, name)
        endpoints[key] = EndpointStats(key=key, api=api, **stats_of(scope, duration_s, windows))
        by_api.setdefault(api, []).append(scope)
    groups = {api: parts[0] if len(parts) == 1 else Samples.joined(parts) for api, parts in by_api.items()}
    apis = {api: Stats(**stats_of(scope, duration_s, windows)) for api, scope in groups.items()}
    if not scheduled:
        return endpoints, apis, {}, {}
    by_key = {endpoint_key(method, name): scope for (_, method, name), scope in samples.items()}
    return (
        endpoints,
        apis,
        {k: lat for k, scope in by_key.items() if (lat := _scheduled(scope)) is not None},
        {k: lat for k, scope in groups.items() if (lat := _scheduled(scope)) is not None},
    )


def _scheduled(scope: Samples) -> Latency | None:
    """Percentiles of the scheduled response time over the requests that carry it."""
    values = scope.values[SCHEDULED]
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    p = percentiles(values)
    return Latency(p50=p["p50"], p95=p["p95"], p99=p["p99"], max=float(values.max()))


def _ok_count(
    client: InfluxClient, window: str, endpoint: tuple[str, str], from_ns: int, source: str = "requests"
) -> int:
    """Successful requests of one endpoint in the judged window from ``from_ns`` on."""
    method, name = endpoint
    what = (
        f'sum("count") FROM "{sk.MEASUREMENT}"'
        if source == "sketches"
        else 'count("response_time") FROM "request"'
    )
    rows = _rows(
        client.query(
            f"SELECT {what} WHERE {window} AND time >= {from_ns} "
            f'AND "method" = {quote_string(method)} AND "name" = {quote_string(name)} '
            f"AND \"result\" = 'ok'"
        )
    )
    return int(rows[0][1]["sum" if source == "sketches" else "count"] or 0) if rows else 0


def _sketch_scopes(
    scopes: dict[tuple[str, str, str], sks.SketchScope], duration_s: float, windows: int, scheduled: bool
) -> tuple[dict[str, EndpointStats], dict[str, Stats], dict[str, Latency], dict[str, Latency]]:
    """``_scopes`` from sketches: stats per endpoint and API group, the scheduled latency where asked."""
    endpoints: dict[str, EndpointStats] = {}
    by_api: dict[str, list[sks.SketchScope]] = {}
    for (api, method, name), scope in scopes.items():
        key = endpoint_key(method, name)
        endpoints[key] = EndpointStats(
            key=key, api=api, **sks.stats_from_sketches(scope, duration_s, windows)
        )
        by_api.setdefault(api, []).append(scope)
    groups = {
        api: parts[0] if len(parts) == 1 else sks.SketchScope.joined(parts) for api, parts in by_api.items()
    }
    apis = {
        api: Stats(**sks.stats_from_sketches(scope, duration_s, windows)) for api, scope in groups.items()
    }
    if not scheduled:
        return endpoints, apis, {}, {}
    by_key = {endpoint_key(method, name): scope for (_, method, name), scope in scopes.items()}
    return (
        endpoints,
        apis,
        {k: lat for k, scope in by_key.items() if (lat := sks.scheduled_latency(scope)) is not None},
        {k: lat for k, scope in groups.items() if (lat := sks.scheduled_latency(scope)) is not None},
    )


def peak_users(client: InfluxClient, run_id: str, start_ns: int, end_ns: int) -> int | None:
    """The most users running at once (harness.influx.datamodel.peak_users_statement): the one
    definition, used by the verdict and stored in run_summary."""
    series = client.query(peak_users_statement(run_id, start_ns, end_ns))
    return int(series[0]["values"][0][1]) if series and series[0]["values"][0][1] is not None else None


def _test_env(client: InfluxClient, run_id: str, measurement: str = "request") -> str:
    series = client.query(
        f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "test_env" WHERE "run_id" = {quote_string(run_id)}',
        epoch="",
    )
    values = [row[1] for s in series for row in s.get("values", [])]
    return values[0] if values else ""

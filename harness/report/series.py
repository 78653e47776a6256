"""Per-interval series of one run, read from raw ``request`` and ``users`` points with InfluxQL.

Buckets start at the run's first request (``GROUP BY time(interval, offset)``), so only the last
bucket can be partial; its rate is taken over the part of it the run covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.apis import endpoint_key
from harness.influx.client import InfluxClient, quote_string
from harness.verdict import run_bounds

# Bucket widths a reader can take in at a glance; the smallest one giving ≤ MAX_POINTS wins.
NICE_INTERVALS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_POINTS = 300
# A last bucket covering less than this share of an interval says too little to give a rate.
MIN_COVERED_SHARE = 0.25


@dataclass(frozen=True)
class Bucket:
    """One interval of one endpoint (or of all endpoints); ``t_ns`` is the bucket's start."""

    t_ns: int
    requests: int
    failures: int
    p95: float | None
    rps: float | None
    p95_scheduled: float | None = None  # arrival model: p95 from the iterations' scheduled start

    @property
    def success_rate(self) -> float | None:
        return 100.0 * (self.requests - self.failures) / self.requests if self.requests else None


@dataclass(frozen=True)
class ArrivalBucket:
    """One interval of one API's arrivals (arrival model), summed over workers, per second."""

    t_ns: int
    target_per_s: float  # asked
    scheduled_per_s: float  # offered: due in the interval
    started_per_s: float  # achieved
    late: int  # arrivals that had to wait for a free user
    dropped: int  # arrivals given up


@dataclass(frozen=True)
class EndpointSeries:
    key: str  # "METHOD name"
    api: str
    buckets: list[Bucket]


@dataclass(frozen=True)
class RunSeries:
    run_id: str
    first_ns: int  # first and last request point of the run
    last_ns: int
    interval_s: int
    endpoints: dict[str, EndpointSeries] = field(default_factory=dict)
    total: list[Bucket] = field(default_factory=list)  # all endpoints together
    users: list[tuple[int, int]] = field(default_factory=list)  # (bucket start ns, users summed over workers)
    arrivals: dict[str, list[ArrivalBucket]] = field(default_factory=dict)  # per API (arrival model)

    @property
    def duration_s(self) -> float:
        return (self.last_ns - self.first_ns) / 1e9


def choose_interval(duration_s: float) -> int:
    """The smallest nice bucket width that keeps a chart at MAX_POINTS points or fewer."""
    for interval in NICE_INTERVALS_S:
        if duration_s / interval <= MAX_POINTS:
            return interval
    return NICE_INTERVALS_S[-1]


def _rows(result: dict) -> list[tuple[dict, dict]]:
    return [
        (s.get("tags") or {}, dict(zip(s["columns"], values)))
        for s in result.get("series", [])
        for values in s.get("values", [])
    ]


def read_series(client: InfluxClient, run_id: str) -> RunSeries:
    """Every endpoint's requests, failures and p95 per interval, plus all endpoints together
    and the users running; raises HarnessError when the run has no request points (a sketch run's
    series: harness/report/sketch_series.py)."""
    first_ns, last_ns, _ = run_bounds(client, run_id)
    interval = choose_interval((last_ns - first_ns) / 1e9)
    interval_us = interval * 1_000_000
    group = f"time({interval}s, {(first_ns // 1000) % interval_us}u)"
    where = f'"run_id" = {quote_string(run_id)} AND time >= {first_ns} AND time <= {last_ns}'
    stats = 'count("response_time") AS "requests", percentile("response_time", 95) AS "p95"'
    failed = f"{where} AND \"result\" = 'fail'"
    by_endpoint, failed_by_endpoint, overall, failed_overall, users = client.query_results(
        f'SELECT {stats} FROM "request" WHERE {where} GROUP BY {group}, "api", "method", "name" fill(none); '
        f'SELECT count("response_time") AS "failures" FROM "request" WHERE {failed} '
        f'GROUP BY {group}, "api", "method", "name" fill(none); '
        f'SELECT {stats} FROM "request" WHERE {where} GROUP BY {group} fill(none); '
        f'SELECT count("response_time") AS "failures" FROM "request" WHERE {failed} GROUP BY {group} fill(none); '
        f'SELECT last("users") AS "users" FROM "users" WHERE {where} GROUP BY {group}, "worker" fill(none)'
    )

    def covered_s(t_ns: int) -> float:
        return min(float(interval), (last_ns - t_ns) / 1e9)

    failures = {
        (t["method"], t["name"], int(r["time"])): int(r["failures"]) for t, r in _rows(failed_by_endpoint)
    }
    endpoints: dict[str, EndpointSeries] = {}
    for tags, row in _rows(by_endpoint):
        key = endpoint_key(tags["method"], tags["name"])
        series = endpoints.setdefault(key, EndpointSeries(key, tags.get("api", ""), []))
        t = int(row["time"])
        series.buckets.append(
            _bucket(row, failures.get((tags["method"], tags["name"], t), 0), covered_s(t), interval)
        )
    total_failures = {int(r["time"]): int(r["failures"]) for _, r in _rows(failed_overall)}
    total = [
        _bucket(r, total_failures.get(int(r["time"]), 0), covered_s(int(r["time"])), interval)
        for _, r in _rows(overall)
    ]
    summed: dict[int, int] = {}
    for _, row in _rows(users):
        summed[int(row["time"])] = summed.get(int(row["time"]), 0) + int(row["users"] or 0)
    for s in endpoints.values():
        s.buckets.sort(key=lambda b: b.t_ns)
    arrivals = _arrival_series(client, where, group, interval)
    if arrivals:
        endpoints = _with_scheduled_p95(client, endpoints, where, group)
    return RunSeries(
        run_id=run_id,
        first_ns=first_ns,
        last_ns=last_ns,
        interval_s=interval,
        endpoints=dict(sorted(endpoints.items())),
        total=sorted(total, key=lambda b: b.t_ns),
        users=sorted(summed.items()),
        arrivals=arrivals,
    )


def _arrival_series(
    client: InfluxClient, where: str, group: str, interval: int
) -> dict[str, list[ArrivalBucket]]:
    """Per API and interval: arrivals asked, due, started (per second), late and dropped. Each point
    covers the second before its timestamp, so an interval's rate is its points' sum / its length."""
    (result,) = client.query_results(
        'SELECT sum("target_per_s") AS "target", sum("scheduled") AS "scheduled", sum("started") AS "started", '
        f'sum("late") AS "late", sum("dropped") AS "dropped" FROM "arrivals" WHERE {where} '
        f'GROUP BY {group}, "api" fill(none)'
    )
    series: dict[str, list[ArrivalBucket]] = {}
    for tags, row in _rows(result):
        series.setdefault(tags["api"], []).append(
            ArrivalBucket(
                t_ns=int(row["time"]),
                target_per_s=float(row["target"] or 0) / interval,
                scheduled_per_s=float(row["scheduled"] or 0) / interval,
                started_per_s=float(row["started"] or 0) / interval,
                late=int(row["late"] or 0),
                dropped=int(row["dropped"] or 0),
            )
        )
    return {api: sorted(buckets, key=lambda b: b.t_ns) for api, buckets in sorted(series.items())}


def _with_scheduled_p95(
    client: InfluxClient, endpoints: dict[str, EndpointSeries], where: str, group: str
) -> dict[str, EndpointSeries]:
    """The endpoints' buckets with the p95 from the scheduled start beside the service time's."""
    (result,) = client.query_results(
        f'SELECT percentile("scheduled_response_time", 95) AS "p95" FROM "request" WHERE {where} '
        f'GROUP BY {group}, "method", "name" fill(none)'
    )
    p95 = {(endpoint_key(t["method"], t["name"]), int(r["time"])): r["p95"] for t, r in _rows(result)}
    return {
        key: replace(s, buckets=[replace(b, p95_scheduled=p95.get((key, b.t_ns))) for b in s.buckets])
        for key, s in endpoints.items()
    }


def _bucket(row: dict, failures: int, covered_s: float, interval: int) -> Bucket:
    requests = int(row["requests"])
    rps = requests / covered_s if covered_s >= MIN_COVERED_SHARE * interval else None
    return Bucket(t_ns=int(row["time"]), requests=requests, failures=failures, p95=row["p95"], rps=rps)

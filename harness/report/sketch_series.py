"""The report's per-interval series of a sketch run (``--influx-points sketches``): the same
``RunSeries`` as harness/report/series.py reads from request points, from every worker's
per-second sketches (intervals are whole seconds; p95 from each interval's merged sketch)."""

from __future__ import annotations

import numpy as np

from harness.apis import endpoint_key
from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_string
from harness.report.series import (
    MIN_COVERED_SHARE,
    Bucket,
    EndpointSeries,
    RunSeries,
    _arrival_series,
    _rows,
    choose_interval,
)
from harness.verdict import SketchScope, read_sketches, sketch_bounds

SECOND_NS = 1_000_000_000


def read_sketch_series(client: InfluxClient, run_id: str) -> RunSeries:
    bounds = sketch_bounds(client, run_id)
    if bounds is None:
        raise HarnessError(
            f"run {run_id!r} has no sketch points in database {client.settings.database!r} "
            f"at {client.settings.url}"
        )
    first_ns, last_ns, _ = bounds
    interval = choose_interval((last_ns - first_ns) / 1e9)
    origin = first_ns - first_ns % SECOND_NS
    scopes = read_sketches(client, run_id, origin, last_ns, scheduled=True)
    where = f'"run_id" = {quote_string(run_id)} AND time >= {first_ns} AND time <= {last_ns}'
    group = f"time({interval}s, {(first_ns // 1000) % (interval * 1_000_000)}u)"

    def covered_s(t_ns: int) -> float:
        return min(float(interval), (last_ns - t_ns) / 1e9)

    endpoints = {}
    for (api, method, name), scope in scopes.items():
        key = endpoint_key(method, name)
        endpoints[key] = EndpointSeries(key, api, _buckets(scope, first_ns, interval, covered_s))
    total = (
        _buckets(SketchScope.joined(list(scopes.values())), first_ns, interval, covered_s, scheduled=False)
        if scopes
        else []
    )
    (users,) = client.query_results(
        f'SELECT last("users") AS "users" FROM "users" WHERE {where} GROUP BY {group}, "worker" fill(none)'
    )
    summed: dict[int, int] = {}
    for _, row in _rows(users):
        summed[int(row["time"])] = summed.get(int(row["time"]), 0) + int(row["users"] or 0)
    return RunSeries(
        run_id=run_id,
        first_ns=first_ns,
        last_ns=last_ns,
        interval_s=interval,
        endpoints=dict(sorted(endpoints.items())),
        total=total,
        users=sorted(summed.items()),
        arrivals=_arrival_series(client, where, group, interval),
    )


def _buckets(
    scope: SketchScope, first_ns: int, interval: int, covered_s, scheduled: bool = True
) -> list[Bucket]:
    # A second belongs to the interval holding its start; the first interval starts at the run's first
    # request, as the request points' series do.
    index = (np.maximum(scope.t_ns, first_ns) - first_ns) // (interval * SECOND_NS)
    out = []
    for i in np.unique(index):
        part = np.flatnonzero(index == i)
        t = int(first_ns + i * interval * SECOND_NS)
        requests = int(scope.count[part].sum())
        p95 = scope.bins.merged(part).percentile(
            95, float(scope.low[part].min()), float(scope.high[part].max())
        )
        p95_scheduled = None
        if (
            scheduled
            and scope.scheduled is not None
            and scope.scheduled_count is not None
            and scope.scheduled_low is not None
            and scope.scheduled_high is not None
        ):
            rows = part[scope.scheduled_count[part] > 0]
            if len(rows):
                p95_scheduled = scope.scheduled.merged(rows).percentile(
                    95, float(scope.scheduled_low[rows].min()), float(scope.scheduled_high[rows].max())
                )
        covered = covered_s(t)
        out.append(
            Bucket(
                t_ns=t,
                requests=requests,
                failures=int(scope.failures[part].sum()),
                p95=p95,
                rps=requests / covered if covered >= MIN_COVERED_SHARE * interval else None,
                p95_scheduled=p95_scheduled,
            )
        )
    return out

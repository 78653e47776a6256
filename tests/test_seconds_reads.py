"""The per-second counts the live abort's dispersion reads (reads/seconds.py), from a real run that
stored both request points and sketches: every second's requests, failures and slow requests equal
the raw points counted in Python, from either source."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.apis import endpoint_key
from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.sketch import RELATIVE_ACCURACY
from harness.verdict.reads.seconds import SECOND_NS, per_second
from tests.helpers import harness

pytestmark = [pytest.mark.influx, pytest.mark.slow]

PAYMENTS = "POST /api/v1/payments"
SLOW_MS = 30.0  # payments answer in 25–45 ms (latency_ms 25, jitter_ms 20): about half are slower
KEYS = ((PAYMENTS, None), ("api:payments", None), (PAYMENTS, SLOW_MS), ("api:payments", SLOW_MS))


@pytest.fixture(scope="module")
def stored_run(influxd, tmp_path_factory):
    db, run_id = "t_seconds", "seconds"
    client = InfluxClient(InfluxSettings(url=influxd.url, database=db))
    client.query_results(f'DROP DATABASE "{db}"', method="POST", epoch="")
    proc = harness(
        "run",
        "--users",
        "10",
        "--spawn-rate",
        "10",
        "--run-time",
        "8s",
        "--influx-points",
        "both",
        "--fault",
        "payments:error_rate=0.3,latency_ms=25,jitter_ms=20",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--run-id",
        run_id,
        "--out",
        str(tmp_path_factory.mktemp("seconds")),
    )
    assert proc.returncode in (0, 1, 2), proc.stdout + proc.stderr
    by_endpoint = {
        endpoint_key(series["tags"]["method"], series["tags"]["name"]): [tuple(v) for v in series["values"]]
        for series in client.query(
            f'SELECT "response_time", "result" FROM "request" WHERE "run_id" = \'{run_id}\' '
            'AND "api" = \'payments\' GROUP BY "method", "name"'
        )
    }
    assert set(by_endpoint) == {PAYMENTS, "GET /api/v1/payments"}
    points = {PAYMENTS: by_endpoint[PAYMENTS], "api:payments": sorted(sum(by_endpoint.values(), []))}
    assert len(points[PAYMENTS]) >= 10 and any(r == "fail" for _, _, r in points[PAYMENTS])
    return client, run_id, points


def _binned(points, origin_ns: int, start_ns: int, end_ns: int):
    """(requests, failures, slower than SLOW_MS) per second of a grid starting at origin_ns."""
    requests: Counter[int] = Counter()
    failures: Counter[int] = Counter()
    slow: Counter[int] = Counter()
    for t, rt, result in points:
        if start_ns <= t <= end_ns:
            second = (t - origin_ns) // SECOND_NS
            requests[second] += 1
            failures[second] += result == "fail"
            slow[second] += rt > SLOW_MS
    return requests, failures, slow


def test_per_second_counts_of_request_points_are_the_raw_points_counted(stored_run):
    client, run_id, points = stored_run
    every = points["api:payments"]
    start_ns, end_ns = every[0][0], every[-1][0]
    counts = per_second(client, run_id, start_ns, end_ns, KEYS, "requests")
    origin = start_ns - start_ns % SECOND_NS  # InfluxDB's seconds are epoch-aligned
    seconds = range((end_ns - origin) // SECOND_NS + 1)
    for scope in (PAYMENTS, "api:payments"):
        requests, failures, slow = _binned(points[scope], origin, start_ns, end_ns)
        assert counts[(scope, None)] == tuple((requests[i], failures[i]) for i in seconds), scope
        assert counts[(scope, SLOW_MS)] == tuple((requests[i], slow[i]) for i in seconds), scope
    assert sum(n for n, _ in counts[("api:payments", None)]) > sum(n for n, _ in counts[(PAYMENTS, None)])


def test_per_second_counts_of_sketches_equal_them_to_the_sketchs_accuracy(stored_run):
    client, run_id, points = stored_run
    (first,) = client.query(
        f'SELECT "count" FROM "request_sketch" WHERE "run_id" = \'{run_id}\' ORDER BY time LIMIT 1'
    )
    origin = first["values"][0][0]  # the sketches' seconds share the run's origin
    end_ns = points["api:payments"][-1][0] + SECOND_NS
    counts = per_second(client, run_id, origin, end_ns, KEYS, "sketches")
    for scope in (PAYMENTS, "api:payments"):
        requests, failures, slow = _binned(points[scope], origin, origin, end_ns)
        # A request in the limit's own bucket is counted as not slower (sketch_stats.slower_than):
        # that bucket spans a factor (1 + α) / (1 − α), about 2 %, so only one more than that above
        # the limit is surely counted (a run on a loaded machine had one such between 1 % and 2 % above 30 ms).
        bucket = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
        shrunk = [(t, rt / bucket, r) for t, rt, r in points[scope]]
        _, _, surely_slow = _binned(shrunk, origin, origin, end_ns)
        seconds = range(len(counts[(scope, None)]))
        assert sum(requests.values()) == len(points[scope]) == sum(n for n, _ in counts[(scope, None)])
        assert counts[(scope, None)] == tuple((requests[i], failures[i]) for i in seconds), scope
        for i, (n, slower) in enumerate(counts[(scope, SLOW_MS)]):
            assert n == requests[i] and surely_slow[i] <= slower <= slow[i], (scope, i)

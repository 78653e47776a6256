"""The arrival model with Locust's own master and separately started workers: the split is
decided before the first arrival and redone when a worker joins or leaves mid-run, and every
full 10 s window still holds the rate."""

from __future__ import annotations

import signal
import time

import pytest

from harness.influx.client import QueryError
from tests.arrival_checks import arrival_totals, event_ns, window_rates

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def _arrivals_start(client, run_id: str, timeout_s: float = 60) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            rows = client.query(
                f'SELECT "title" FROM "runs"."events" WHERE "run_id" = \'{run_id}\' '
                f"AND \"type\" = 'arrivals_start'"
            )
        except QueryError:  # the master creates the database when it starts
            rows = []
        if rows:
            return rows[0]["values"][0][0] / 1e9
        time.sleep(0.2)
    raise AssertionError("the arrivals never started")


def test_master_and_workers_joining_and_leaving_keep_the_rate(influxd, influx_db, sandbox, locust_cluster):
    # Only the master is told the rate; the workers learn everything from it.
    locust_cluster.start(
        "-u",
        "30",
        "-r",
        "30",
        "-t",
        "33s",
        "--host",
        sandbox,
        "--rate",
        "generation=10",
        "--run-id",
        "arrivals-dist",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--stop-timeout",
        "5",
    )
    start = _arrivals_start(influx_db, "arrivals-dist")
    time.sleep(max(0.0, start + 8 - time.time()))
    locust_cluster.add_worker()  # joins in the first window
    time.sleep(max(0.0, start + 19 - time.time()))
    locust_cluster.workers[0].send_signal(signal.SIGTERM)  # one of the first two leaves in the second window
    code = locust_cluster.wait()
    master_err = locust_cluster.master_log
    assert code == 0, master_err[-3000:]

    rates = window_rates(influx_db, "arrivals-dist", "POST", "/api/v1/generations")
    assert len(rates) == 3, rates
    shares = influx_db.query(
        'SELECT "target_per_s", "scheduled" FROM "arrivals" WHERE "run_id" = \'arrivals-dist\' '
        'AND "api" = \'generation\' GROUP BY "worker"',
        epoch="s",
    )
    assert all(9.5 <= rate <= 10.5 for rate in rates), (
        rates,
        shares,
        master_err[-3000:],
        [log[-2000:] for log in locust_cluster.worker_logs],
    )
    assert {round(row[1], 3) for s in shares for row in s["values"]} >= {5.0, 3.333}  # over two, then three
    workers = influx_db.query(
        'SHOW TAG VALUES FROM "arrivals" WITH KEY = "worker" WHERE "run_id" = \'arrivals-dist\''
    )[0]["values"]
    assert len(workers) == 3
    totals = arrival_totals(influx_db, "arrivals-dist", "generation")
    assert totals["dropped"] == 0
    assert event_ns(influx_db, "arrivals-dist", "stopping") > event_ns(
        influx_db, "arrivals-dist", "arrivals_start"
    )

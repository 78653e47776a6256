"""Locust's own request count as the second witness of completeness, against a real InfluxDB: the
verdict takes the larger of the listeners' count and Locust's (handed to the judge by ``harness
run`` and ``locust --verdict``, or stored in the ``run`` point), so a run whose listeners undercount
cannot look complete."""

from __future__ import annotations

import time

import pytest

from harness.influx.datamodel import RUN
from harness.influx.lineprotocol import make_line
from harness.influx.schema import ensure_database
from harness.verdict.reads.measure import measure
from tests.helpers import request_tags

pytestmark = pytest.mark.influx

S = 1_000_000_000
STORED = 40


def write_run(client, run_id: str) -> int:
    """40 requests over 20 s, and one listener whose final count says it saw exactly those."""
    ensure_database(client, "runs")
    t0 = (time.time_ns() // S - 600) * S
    tags = request_tags(run_id, "payments", "POST", "/api/v1/payments", "201")
    lines = [
        make_line("request", tags, {"response_time": 5.0, "response_length": 10}, t0 + i * S // 2)
        for i in range(STORED)
    ]
    lines.append(
        make_line(
            "listener_stats",
            {"run_id": run_id, "test_env": "test", "worker": "w1"},
            {"seen": STORED, "dropped": 0, "spooled": 0, "final": True},
            t0 + 21 * S,
        )
    )
    client.write(("\n".join(lines) + "\n").encode())
    return t0


def test_the_listeners_count_alone_makes_a_complete_run(influx_db):
    write_run(influx_db, "counted-none")
    c = measure(influx_db, "counted-none", warmup_s=0).completeness
    assert (c.seen, c.stored, c.missing) == (STORED, STORED, 0)


def test_locust_counting_more_than_is_stored_makes_it_incomplete(influx_db):
    write_run(influx_db, "counted-more")
    c = measure(influx_db, "counted-more", warmup_s=0, counted=STORED + 3).completeness
    assert (c.seen, c.stored, c.missing) == (STORED + 3, STORED, 3)
    # A count below the stored points (Locust's statistics reset mid-run) changes nothing.
    c = measure(influx_db, "counted-more", warmup_s=0, counted=STORED - 10).completeness
    assert (c.seen, c.missing) == (STORED, 0)


def test_the_larger_of_the_given_and_the_stored_count_is_taken(influx_db):
    t0 = write_run(influx_db, "counted-stored")
    influx_db.write(
        (
            make_line(
                RUN.name, {"run_id": "counted-stored", "test_env": "test"}, {"requests_counted": 45}, t0
            )
            + "\n"
        ).encode(),
        retention_policy="runs",
    )
    assert measure(influx_db, "counted-stored", warmup_s=0).completeness.seen == 45
    assert measure(influx_db, "counted-stored", warmup_s=0, counted=43).completeness.seen == 45
    assert measure(influx_db, "counted-stored", warmup_s=0, counted=47).completeness.seen == 47

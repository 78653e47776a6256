"""The users model's generation rate, against a real InfluxDB: counted while every user was running
(from the later of the warm-up's end and the spawn's) up to the stop request."""

from __future__ import annotations

import time

import pytest

from harness.influx.datamodel import event_line
from harness.influx.lineprotocol import make_line
from harness.influx.schema import ensure_database
from harness.verdict.reads.measure import measure
from tests.helpers import request_tags

S = 1_000_000_000


def write_ramped_run(client, run_id: str, spawned: bool) -> None:
    """30 s: creates at 5/s while 10 of 20 users have spawned (first 10 s), then 10/s; stop at 30 s."""
    ensure_database(client, "runs")
    t0 = (time.time_ns() // S - 600) * S
    tags = request_tags(run_id, "generation", "POST", "/api/v1/generations", "202")
    lines = [
        make_line(
            "listener_stats",
            {"run_id": run_id, "test_env": "test", "worker": "w1"},
            {"seen": 0, "dropped": 0, "spooled": 0},
            t0,
        )
    ]
    for second in range(30):
        per_s = 5 if second < 10 else 10
        lines += [
            make_line(
                "request",
                tags,
                {"response_time": 5.0, "response_length": 10},
                t0 + second * S + i * (S // per_s) + 1000,
            )
            for i in range(per_s)
        ]
    # The last flow's poll, after the stop request: the judged window runs on to it.
    lines.append(
        make_line(
            "request",
            {**tags, "method": "GET", "name": "/api/v1/generations/[id]", "status": "200"},
            {"response_time": 5.0, "response_length": 10},
            t0 + 31 * S,
        )
    )
    client.write(("\n".join(lines) + "\n").encode())
    events = [event_line(run_id, "test", "stopping", "Stopping", "", t0 + 30 * S)]
    if spawned:
        events.append(event_line(run_id, "test", "spawn_complete", "Spawning complete", "", t0 + 10 * S))
    client.write(("\n".join(events) + "\n").encode(), retention_policy="runs")


@pytest.mark.influx
@pytest.mark.parametrize(
    "spawned, rate",
    [
        (True, 10.0),  # 200 creates in the 20 s from the spawn's end to the stop
        (False, 9.0),  # no spawn event: from the warm-up's end, 25 + 200 creates in 25 s
    ],
)
def test_the_generation_rate_counts_from_the_end_of_spawning(influx_db, spawned, rate):
    write_ramped_run(influx_db, "ramped", spawned)
    m = measure(influx_db, "ramped", warmup_s=5)
    assert m.generation_rate == pytest.approx(rate, rel=1e-6)
    assert m.endpoints["POST /api/v1/generations"].requests == 25 + 200  # the judged window is unchanged

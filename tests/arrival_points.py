"""An arrival-model run written by hand, so each number read back has a known answer: two
workers sampling their seconds at their own phases, a stall in window 2, a 3 s answer across a
window's edge, one worker's CPU and another's loop lag at their limits."""

from __future__ import annotations

import time

from harness.influx.datamodel import event_line
from harness.influx.lineprotocol import make_line

RUN = "measure-load.1"
S = 1_000_000_000
T0 = (
    time.time_ns() // S - 600
) * S  # the pool's first sign-in (the run's first request), inside any retention
EPOCH = T0 + 2 * S + 123_456_789  # the first arrival (the arrivals_start event), as odd as a real one
PHASES = {"w1": 320_000_000, "w2": 710_000_000}  # each worker samples its second at its own phase
STALL_START = EPOCH + 13 * S + 900_000_000  # a 3 s answer, started in window 1, still open in window 2


def _started(worker: str, second: int) -> tuple[int, int]:
    """(started, late) of a worker's sampled second ``second`` (it ends ``second`` s + phase after the epoch)."""
    if second in (16, 17):
        return 10, 10  # a stall: half the arrivals waited and started in the next second
    if second == 15:
        return 20, 1 if worker == "w1" else 2  # marks: which window holds the second that straddles an edge
    return 20, 0


def _points() -> list[str]:
    lines = []
    tags = {"run_id": RUN, "test_env": "test"}
    for worker in ("w1", "w2"):
        lines.append(
            make_line(
                "listener_stats", {**tags, "worker": worker}, {"seen": 0, "dropped": 0, "spooled": 0}, T0
            )
        )
    # The pool signs in before the first arrival: not judged.
    lines.append(
        make_line(
            "request",
            {
                **tags,
                "api": "auth",
                "name": "/api/v1/auth/login",
                "method": "POST",
                "result": "ok",
                "status": "200",
                "worker": "w1",
            },
            {"response_time": 900.0, "response_length": 10},
            T0,
        )
    )
    for worker, phase in PHASES.items():
        for second in range(1, 31):
            end = EPOCH + second * S + phase
            started, late = _started(worker, second)
            lines.append(
                make_line(
                    "arrivals",
                    {**tags, "worker": worker, "api": "payments"},
                    {
                        "target_per_s": 20.0,
                        "scheduled": 20,
                        "started": started,
                        "late": late,
                        "dropped": 0,
                        "max_lag_ms": 400.0 if late else 1.5,
                    },
                    end,
                )
            )
            lines.append(
                make_line(
                    "users",
                    {**tags, "worker": worker},
                    {
                        "users": 5,
                        "loop_lag_ms": 250.0 if (worker, second) == ("w2", 21) else 1.0,
                        "cpu_percent": 97.0 if (worker, second) == ("w1", 20) else 30.0,
                        "pool_busy": 2,
                    },
                    end,
                )
            )
            # The second's key requests, evenly through it: 5 ms of service, 5–24 ms from the scheduled start.
            for j in range(started):
                lines.append(
                    make_line(
                        "request",
                        {
                            **tags,
                            "api": "payments",
                            "name": "/api/v1/payments",
                            "method": "POST",
                            "result": "ok",
                            "status": "201",
                            "worker": worker,
                        },
                        {"response_time": 5.0, "scheduled_response_time": 5.0 + j, "response_length": 10},
                        end - S + (j * S) // started + 1000,
                    )
                )
    lines.append(
        make_line(
            "request",
            {
                **tags,
                "api": "payments",
                "name": "/api/v1/payments",
                "method": "GET",
                "result": "ok",
                "status": "200",
                "worker": "w2",
            },
            {"response_time": 3000.0, "scheduled_response_time": 3400.0, "response_length": 10},
            STALL_START,
        )
    )
    return lines


def _run_points() -> list[str]:
    """The long-lived points the listener writes: the plan, the first arrival, the stop request."""
    return [
        make_line(
            "load_plan",
            {"run_id": RUN, "test_env": "test"},
            {
                "load_model": "arrival",
                "rates": "payments=40",
                "arrivals": "constant",
                "rate_profile": "",
                "max_lateness_s": 10.0,
                "users": 10,
                "spawn_rate": 10.0,
            },
            T0,
        ),
        event_line(RUN, "test", "arrivals_start", "Arrivals started", "", EPOCH),
        event_line(RUN, "test", "stopping", "Stopping", "", EPOCH + 30 * S + 200_000_000),
    ]


def write_run(client) -> None:
    client.write(("\n".join(_points()) + "\n").encode())
    client.write(("\n".join(_run_points()) + "\n").encode(), retention_policy="runs")

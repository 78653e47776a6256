"""The data model: every measurement the harness stores, its tags, the event types, the intervals
the writers keep, where run data lives and how an ``events`` point is built.

Writers and readers (listener, run data, verdict, report, history, dashboards' tests) take the
names from here, so a measurement or tag is spelled once; docs/data-model.md describes the same
model and tests/test_datamodel.py checks that the two agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.influx.client import quote_ident, quote_string
from harness.influx.lineprotocol import make_line

# -- where: the two retention policies ---------------------------------------------------------
RAW = "raw"  # the database's default policy: per-request data, short retention
RUNS = "runs"  # the long-lived policy (--influx-runs-rp): what trend panels read after raw data expires


@dataclass(frozen=True)
class Measurement:
    name: str
    policy: str  # RAW or RUNS
    tags: tuple[str, ...]


# -- tag keys ------------------------------------------------------------------------------------
RUN_ID = "run_id"
TEST_ENV = "test_env"
WORKER = "worker"
API = "api"
NAME = "name"
METHOD = "method"
RESULT = "result"
STATUS = "status"
TYPE = "type"
SCOPE = "scope"
ENDPOINT = "endpoint"
METRIC = "metric"
VERDICT = "verdict"

# -- measurements --------------------------------------------------------------------------------
REQUEST = Measurement("request", RAW, (RUN_ID, TEST_ENV, API, NAME, METHOD, RESULT, STATUS, WORKER))
# Sketch mode (--influx-points sketches, docs/sketches.md): per process, series and second; and the
# fleet's merged series per endpoint and second (harness/influx/sketch.py has the fields).
REQUEST_SKETCH = Measurement(
    "request_sketch", RAW, (RUN_ID, TEST_ENV, API, NAME, METHOD, RESULT, STATUS, WORKER)
)
REQUEST_SKETCH_FLEET = Measurement("request_sketch_fleet", RAW, (RUN_ID, TEST_ENV, API, NAME, METHOD))
USERS = Measurement("users", RAW, (RUN_ID, TEST_ENV, WORKER))
ARRIVALS = Measurement("arrivals", RAW, (RUN_ID, TEST_ENV, WORKER, API))
LISTENER_STATS = Measurement("listener_stats", RAW, (RUN_ID, TEST_ENV, WORKER))
QUARANTINE = Measurement("quarantine", RAW, (RUN_ID, WORKER))
EVENTS = Measurement("events", RUNS, (RUN_ID, TEST_ENV, TYPE))
RUN = Measurement("run", RUNS, (RUN_ID, TEST_ENV))
LOAD_PLAN = Measurement("load_plan", RUNS, (RUN_ID, TEST_ENV))
THRESHOLD = Measurement("threshold", RUNS, (RUN_ID, TEST_ENV, SCOPE, API, ENDPOINT, METRIC))
BASELINE = Measurement("baseline", RUNS, (RUN_ID, TEST_ENV, SCOPE, API, ENDPOINT, METRIC))
RUN_SUMMARY = Measurement("run_summary", RUNS, (RUN_ID, TEST_ENV, VERDICT, SCOPE, API, ENDPOINT))

MEASUREMENTS: tuple[Measurement, ...] = (
    REQUEST,
    REQUEST_SKETCH,
    REQUEST_SKETCH_FLEET,
    USERS,
    ARRIVALS,
    LISTENER_STATS,
    QUARANTINE,
    EVENTS,
    RUN,
    LOAD_PLAN,
    THRESHOLD,
    BASELINE,
    RUN_SUMMARY,
)
NAMES = frozenset(m.name for m in MEASUREMENTS)

# -- event types (the ``type`` tag of ``events``) -------------------------------------------------
EVENT_START = "start"
EVENT_SPAWN_COMPLETE = "spawn_complete"
EVENT_ARRIVALS_START = "arrivals_start"
EVENT_STOPPING = "stopping"
EVENT_STOP = "stop"
EVENT_VERDICT = "verdict"
EVENT_INTERRUPTED = "interrupted"
EVENT_WORKER_LOST = "worker_lost"
EVENT_ABORT = "abort"
EVENT_REGRESSION = "regression"
EVENT_CHANGE_POINT = "change_point"
EVENT_TYPES = (
    EVENT_START,
    EVENT_SPAWN_COMPLETE,
    EVENT_ARRIVALS_START,
    EVENT_STOPPING,
    EVENT_STOP,
    EVENT_VERDICT,
    EVENT_INTERRUPTED,
    EVENT_WORKER_LOST,
    EVENT_ABORT,
    EVENT_REGRESSION,
    EVENT_CHANGE_POINT,
)

# -- intervals -----------------------------------------------------------------------------------
# Each process writes its ``users`` point (users, CPU, loop lag) and its ``arrivals`` points this
# often; the live CPU check needs samples for half its window at this rate.
USERS_INTERVAL_S = 1.0


def run_data_source(runs_rp: str, measurement: str | Measurement) -> str:
    """``"runs"."run_summary"``, or the bare measurement when run data has no policy of its own."""
    name = measurement.name if isinstance(measurement, Measurement) else measurement
    return f"{quote_ident(runs_rp)}.{quote_ident(name)}" if runs_rp else quote_ident(name)


def event_line(
    run_id: str,
    test_env: str,
    kind: str,
    title: str,
    text: str,
    ts_ns: int | None = None,
    extra_tags: dict[str, str] | None = None,
    extra_fields: dict[str, object] | None = None,
) -> str:
    """An ``events`` point: the annotation Grafana draws from its fields (``title``, ``text``,
    ``tags``; fields, since Grafana's annotation mapping reads fields), plus what a reader of that
    event type needs (``extra_fields``)."""
    return make_line(
        EVENTS.name,
        {RUN_ID: run_id, TEST_ENV: test_env, TYPE: kind, **(extra_tags or {})},
        {"title": title, "text": text, "tags": f"{kind},{test_env}", **(extra_fields or {})},
        ts_ns or time.time_ns(),
    )


def peak_users_statement(run_id: str, start_ns: int, end_ns: int) -> str:
    """The most users running at once, ``max`` over seconds of the sum over workers of each worker's
    *last* count in that second: a worker that wrote two samples in one second counts once."""
    return (
        f'SELECT max("u") FROM (SELECT sum("w") AS "u" FROM (SELECT last("users") AS "w" FROM "{USERS.name}" '
        f'WHERE "{RUN_ID}" = {quote_string(run_id)} AND time >= {start_ns} AND time <= {end_ns} '
        f'GROUP BY time(1s), "{WORKER}" fill(none)) GROUP BY time(1s))'
    )

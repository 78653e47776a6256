"""GenerationUser pacing knows the test's total from the first user on: the master computes it
exactly as Locust's dispatcher will assign classes, before it dispatches a single user."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from harness.scenarios import pacing
from tests.arrival_checks import event_ns, window_rates
from tests.helpers import ROOT, harness

# Locust monkey-patches the standard library when imported, which must happen before anything
# else imports ssl: so the comparison with Locust's own dispatcher runs in a fresh interpreter.
COMPARE = r"""
import json, sys
from locust import User
from locust.dispatch import UsersDispatcher
from locust.runners import WorkerNode
from harness.scenarios import pacing

out = []
for weights in ({"AuthUser": 1, "GenerationUser": 2, "PaymentUser": 1}, {"AuthUser": 3, "GenerationUser": 1, "PaymentUser": 2}):
    classes = [type(name, (User,), {"weight": w, "abstract": False}) for name, w in weights.items()]
    for user_count in (1, 2, 3, 7, 20, 33, 100, 201, 1000):
        dispatcher = UsersDispatcher(worker_nodes=[WorkerNode("a"), WorkerNode("b")], user_classes=classes)
        dispatcher.new_dispatch(user_count, spawn_rate=user_count)
        final = {}
        for dispatched in dispatcher:  # a single iteration: spawn rate = user count
            final = dispatched
        locust_counts = {}
        for per_worker in final.values():
            for name, count in per_worker.items():
                if count:
                    locust_counts[name] = locust_counts.get(name, 0) + count
        out.append([user_count, locust_counts, pacing.expected_class_counts(classes, user_count)])
print(json.dumps(out))
"""


def test_expected_counts_equal_what_locusts_dispatcher_assigns():
    proc = subprocess.run(
        [sys.executable, "-c", COMPARE], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert len(rows) == 18
    for user_count, locust_counts, ours in rows:
        assert ours == locust_counts, user_count


def test_every_process_paces_by_the_total_in_the_options():
    options = SimpleNamespace(**{pacing.OPTION: 100})  # what set_total puts there for 200 users
    # a worker that has spawned only 3 of its users so far still uses the test's total
    environment = SimpleNamespace(
        parsed_options=options, runner=SimpleNamespace(user_classes_count={"GenerationUser": 3})
    )
    assert pacing.total_generation_users(environment, "GenerationUser") == 100
    # 100 users at 10/s in total: a user whose iteration just began waits out its 10 s interval
    user = SimpleNamespace(environment=environment)
    assert pacing.paced_wait(user, 10.0) == 10.0


@pytest.mark.influx
@pytest.mark.slow
def test_two_processes_offer_the_target_during_and_after_spawning(influxd, influx_db, tmp_path):
    """The users model with --processes 2: no doubling while users spawn, no collapse after."""
    proc = harness(
        "run",
        "--users",
        "40",
        "--spawn-rate",
        "8",
        "--processes",
        "2",
        "--run-time",
        "30s",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--run-id",
        "paced",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode in (0, 1, 2), proc.stdout + proc.stderr
    first = influx_db.query(
        'SELECT first("response_time") FROM "request" WHERE "run_id" = \'paced\' '
        "AND \"method\" = 'POST' AND \"name\" = '/api/v1/generations'"
    )[0]["values"][0][0]
    stopping = event_ns(influx_db, "paced", "stopping")
    rates = window_rates(influx_db, "paced", "POST", "/api/v1/generations", start_ns=first, end_ns=stopping)
    assert len(rates) == 2 and max(rates) <= 11, rates  # from the first generation on
    # 20 GenerationUsers at 10/s in total: each one every 2 s. Once all are spawned and one
    # interval has passed, every window holds the target.
    steady = event_ns(influx_db, "paced", "spawn_complete") + int(2e9)
    rates = window_rates(influx_db, "paced", "POST", "/api/v1/generations", start_ns=steady, end_ns=stopping)
    assert rates and all(9 <= rate <= 11 for rate in rates), rates

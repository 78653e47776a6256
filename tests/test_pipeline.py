"""End to end: Locust → listener → real InfluxDB stores exactly the requests Locust counted."""

from __future__ import annotations

import pytest

from harness.influx.local import free_port
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import harness, run_locust, stored_count

pytestmark = [pytest.mark.influx, pytest.mark.slow]


@pytest.fixture(scope="module")
def sandbox():
    proc, url = start_subprocess(port=0)
    yield url
    stop_subprocess(proc)


@pytest.mark.parametrize("processes", [1, 2])
def test_every_request_is_stored_exactly_once(influxd, influx_db, sandbox, processes):
    run_id = f"pipeline-p{processes}"
    port = str(free_port())  # not Locust's default 5557, which another run on this machine may use
    extra = (
        [
            "--processes",
            str(processes),
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
            "--master-port",
            port,
        ]
        if processes > 1
        else []
    )
    proc, total = run_locust(sandbox, influxd.url, influx_db.settings.database, run_id, extra=extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert total and total > 100, "the run made too few requests to prove anything"
    assert stored_count(influx_db, run_id) == total

    tags = influx_db.query(
        f'SHOW TAG VALUES FROM "request" WITH KEY IN ("api", "method", "result", '
        f'"test_env", "run_id") WHERE "run_id" = \'{run_id}\''
    )
    values = {}
    for key, value in tags[0]["values"]:
        values.setdefault(key, set()).add(value)
    assert values["api"] == {"auth", "generation", "payments"}
    assert values["run_id"] == {run_id}
    assert values["result"] == {"ok"}
    assert {"GET", "POST"} <= values["method"]

    names = {v for _, v in influx_db.query('SHOW TAG VALUES FROM "request" WITH KEY = "name"')[0]["values"]}
    assert "/api/v1/generations/[id]" in names
    assert all("[id]" in n or n.count("/") <= 4 for n in names), names  # no raw ids in names

    workers = influx_db.query(
        f'SHOW TAG VALUES FROM "request" WITH KEY = "worker" WHERE "run_id" = \'{run_id}\''
    )
    assert len(workers[0]["values"]) == processes

    stats = influx_db.query(
        f'SELECT sum("seen") FROM (SELECT last("seen") AS "seen" FROM "listener_stats" '
        f'WHERE "run_id" = \'{run_id}\' GROUP BY "worker")'
    )
    assert stats[0]["values"][0][1] == total

    users = influx_db.query(f'SELECT max("users") FROM "users" WHERE "run_id" = \'{run_id}\'')
    assert users and users[0]["values"][0][1] > 0

    events = influx_db.query(f'SELECT "title", "type" FROM "runs"."events" WHERE "run_id" = \'{run_id}\'')
    kinds = {row[2] for row in events[0]["values"]}
    assert {"start", "stop", "spawn_complete"} <= kinds


def test_json_on_stdout_counts_exactly_what_is_stored_with_processes(influxd, influx_db, sandbox):
    """The issue's own acceptance command: ``locust … --processes 2 --json``."""
    import json
    import subprocess
    import sys

    from tests.helpers import LOCUSTFILE, ROOT

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "-u",
            "30",
            "-r",
            "30",
            "-t",
            "12s",
            "--host",
            sandbox,
            "--influx-url",
            influxd.url,
            "--influx-db",
            influx_db.settings.database,
            "--run-id",
            "X",
            "--json",
            "--processes",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    total = sum(entry["num_requests"] for entry in json.loads(proc.stdout))  # one JSON document, the master's
    assert total > 300 and stored_count(influx_db, "X") == total


def test_unreachable_influxdb_is_one_line_error(sandbox, tmp_path):
    proc, _ = run_locust(sandbox, "http://127.0.0.1:9", "x", "unreachable", run_time="2s", timeout=60)
    assert proc.returncode == 2
    error_lines = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert any("unreachable" in line and "127.0.0.1:9" in line for line in error_lines), proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_records_a_plain_locust_run_for_the_dashboards(influxd, influx_db, sandbox, tmp_path):
    proc, total = run_locust(sandbox, influxd.url, influx_db.settings.database, "plain", run_time="6s")
    assert proc.returncode == 0
    check = harness(
        "check",
        "--run-id",
        "plain",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--out",
        str(tmp_path),
        timeout=60,
    )
    assert check.returncode in (0, 1, 2) and check.stdout.startswith("verdict: "), check.stdout + check.stderr
    status = influx_db.query('SELECT "status", "verdict" FROM "runs"."run" WHERE "run_id" = \'plain\'')
    assert status[0]["values"][0][1:] == ["checked", check.stdout.split()[1].lower()]
    limits = influx_db.query(
        'SELECT "value" FROM "runs"."threshold" WHERE "run_id" = \'plain\' '
        "AND \"scope\" = 'api:payments' AND \"metric\" = 'p95'"
    )
    assert [row[1] for row in limits[0]["values"]] == [300.0, 300.0]

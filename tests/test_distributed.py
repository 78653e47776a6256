"""Locust's own master/worker mode: the run id comes from the master, each worker is tagged apart,
and the stored points equal the master's count exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.influx.local import free_port
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import LOCUSTFILE, ROOT, stored_count

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def test_master_and_two_workers_store_exactly_what_the_master_counted(influxd, influx_db, tmp_path):
    sandbox, host = start_subprocess(port=0)
    port = free_port()
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    try:
        # The master alone knows InfluxDB and makes the run id (none given); workers get both
        # with the master's spawn message.
        master = subprocess.Popen(
            locust + ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--headless",
                      "--expect-workers", "2", "-u", "20", "-r", "20", "-t", "10s", "--host", host,
                      "--influx-url", influxd.url, "--influx-db", influx_db.settings.database,
                      "--json-file", str(tmp_path / "stats"), "--stop-timeout", "5"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        workers = [subprocess.Popen(locust + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                   for _ in range(2)]
        _, master_err = master.communicate(timeout=120)
        for worker in workers:
            worker.wait(timeout=60)
    finally:
        for proc in [master, *workers]:
            if proc.poll() is None:
                proc.kill()
        stop_subprocess(sandbox)
    assert master.returncode == 0, master_err[-3000:]
    total = sum(e["num_requests"] for e in json.loads((tmp_path / "stats.json").read_text()))
    assert total > 200

    run_ids = [v for _, v in influx_db.query('SHOW TAG VALUES FROM "request" WITH KEY = "run_id"')[0]["values"]]
    assert len(run_ids) == 1, run_ids
    run_id = run_ids[0]
    assert stored_count(influx_db, run_id) == total
    workers_tagged = influx_db.query(f"SHOW TAG VALUES FROM \"request\" WITH KEY = \"worker\" WHERE \"run_id\" = '{run_id}'")
    assert len(workers_tagged[0]["values"]) == 2
    seen = influx_db.query(f"SELECT sum(\"seen\") FROM (SELECT last(\"seen\") AS \"seen\" FROM \"listener_stats\" "
                           f"WHERE \"run_id\" = '{run_id}' GROUP BY \"worker\")")
    assert seen[0]["values"][0][1] == total
    events = influx_db.query(f"SELECT \"title\", \"type\" FROM \"runs\".\"events\" WHERE \"run_id\" = '{run_id}'")
    assert {"start", "stop"} <= {row[2] for row in events[0]["values"]}

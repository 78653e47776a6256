"""Interactive use: ``locust -f harness/locustfile.py`` with the web UI; every test started from
the UI is a new run with its own run id."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from harness.influx.local import free_port
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import LOCUSTFILE, ROOT

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def wait_for(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def test_each_test_started_from_the_web_ui_gets_a_new_run_id(influxd, influx_db):
    sandbox, host = start_subprocess(port=0)
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    locust = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1",
                               "--web-port", str(port), "--host", host, "--influx-url", influxd.url,
                               "--influx-db", influx_db.settings.database],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(ui + "/")
        for _ in range(2):
            started = requests.post(ui + "/swarm", data={"user_count": 5, "spawn_rate": 5, "host": host}, timeout=10)
            assert started.status_code == 200 and started.json()["success"], started.text
            time.sleep(3)
            assert requests.post(ui + "/stop", timeout=10).status_code == 200
            time.sleep(2)  # test_stop: the listener's final flush
    finally:
        locust.terminate()
        locust.wait(timeout=30)
        stop_subprocess(sandbox)
    run_ids = [v for _, v in influx_db.query('SHOW TAG VALUES FROM "request" WITH KEY = "run_id"')[0]["values"]]
    assert len(run_ids) == 2, run_ids
    for run_id in run_ids:
        events = influx_db.query(f"SELECT \"title\", \"type\" FROM \"runs\".\"events\" WHERE \"run_id\" = '{run_id}'")
        assert {"start", "stop"} <= {row[2] for row in events[0]["values"]}, run_id

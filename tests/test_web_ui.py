"""Interactive use: ``locust -f harness/locustfile.py`` with the web UI; every test started from
the UI is a new run with its own run id."""

from __future__ import annotations

import time

import pytest
import requests

from harness.influx.local import free_port
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import wait_for, web_ui_locust

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def test_each_test_started_from_the_web_ui_gets_a_new_run_id(influxd, influx_db):
    sandbox, host = start_subprocess(port=0)
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    locust = web_ui_locust(port, host, influxd, influx_db.settings.database)
    try:
        wait_for(ui + "/")
        for _ in range(2):
            started = requests.post(
                ui + "/swarm", data={"user_count": 5, "spawn_rate": 5, "host": host}, timeout=10
            )
            assert started.status_code == 200 and started.json()["success"], started.text
            time.sleep(3)
            assert requests.post(ui + "/stop", timeout=10).status_code == 200
            time.sleep(2)  # test_stop: the listener's final flush
    finally:
        locust.terminate()
        locust.wait(timeout=30)
        stop_subprocess(sandbox)
    run_ids = [
        v for _, v in influx_db.query('SHOW TAG VALUES FROM "request" WITH KEY = "run_id"')[0]["values"]
    ]
    assert len(run_ids) == 2, run_ids
    for run_id in run_ids:
        events = influx_db.query(f'SELECT "title", "type" FROM "runs"."events" WHERE "run_id" = \'{run_id}\'')
        assert {"start", "stop"} <= {row[2] for row in events[0]["values"]}, run_id


def test_the_web_ui_runs_the_arrival_model_and_switches_models_between_tests(influxd, influx_db):
    sandbox, host = start_subprocess(port=0)
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    locust = web_ui_locust(port, host, influxd, influx_db.settings.database, "--rate", "generation=5")
    try:
        wait_for(ui + "/")
        # The rate is a field of the start form: the first test asks for payments instead.
        for rate in ("payments=8", ""):
            started = requests.post(
                ui + "/swarm",
                data={"user_count": 10, "spawn_rate": 10, "host": host, "rate": rate},
                timeout=10,
            )
            assert started.status_code == 200 and started.json()["success"], started.text
            time.sleep(5)
            assert requests.post(ui + "/stop", timeout=10).status_code == 200
            time.sleep(2)
    finally:
        locust.terminate()
        locust.wait(timeout=30)
        stop_subprocess(sandbox)
    plans = {
        s["tags"]["run_id"]: s["values"][0][1:]
        for s in influx_db.query('SELECT "rates", "load_model" FROM "runs"."load_plan" GROUP BY "run_id"')
    }
    assert sorted(plans.values()) == [["", "users"], ["payments=8", "arrival"]], plans
    arrival_run = next(run_id for run_id, row in plans.items() if row[0] == "payments=8")
    users_run = next(run_id for run_id, row in plans.items() if row[0] == "")
    apis = influx_db.query(
        f'SHOW TAG VALUES FROM "arrivals" WITH KEY = "api" WHERE "run_id" = \'{arrival_run}\''
    )
    assert [v for _, v in apis[0]["values"]] == ["payments"]
    created = influx_db.query(
        f'SELECT count("scheduled_response_time") FROM "request" WHERE "run_id" = '
        f"'{arrival_run}' AND \"method\" = 'POST' AND \"name\" = '/api/v1/payments'"
    )
    assert 24 <= created[0]["values"][0][1] <= 48  # 8/s for about 5 s, each with its scheduled latency
    assert not influx_db.query(
        f'SELECT count("response_time") FROM "request" WHERE "run_id" = \'{arrival_run}\' '
        f"AND \"api\" = 'generation'"
    )  # only the API given a rate runs
    assert not influx_db.query(
        f'SELECT count("target_per_s") FROM "arrivals" WHERE "run_id" = \'{users_run}\''
    )
    users_requests = influx_db.query(
        f'SELECT count("response_time") FROM "request" WHERE "run_id" = \'{users_run}\' GROUP BY "api"'
    )
    assert {s["tags"]["api"] for s in users_requests} >= {"auth", "generation"}


def test_the_start_form_chooses_what_each_test_stores(influxd, influx_db):
    """``influx_points`` is a field of the web UI's start form: one test with sketches, the next
    with request points, in one Locust process."""
    sandbox, host = start_subprocess(port=0)
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    locust = web_ui_locust(port, host, influxd, influx_db.settings.database)
    try:
        wait_for(ui + "/")
        assert "influx_points" in requests.get(ui + "/", timeout=10).text  # the form offers it
        for points in ("sketches", "requests"):
            started = requests.post(
                ui + "/swarm",
                data={"user_count": 5, "spawn_rate": 5, "host": host, "influx_points": points},
                timeout=10,
            )
            assert started.status_code == 200 and started.json()["success"], started.text
            time.sleep(4)
            assert requests.post(ui + "/stop", timeout=10).status_code == 200
            time.sleep(2)  # test_stop: the listener's final flush
    finally:
        locust.terminate()
        locust.wait(timeout=30)
        stop_subprocess(sandbox)
    runs = {
        measurement: [v for _, v in series["values"]]
        for measurement in ("request", "request_sketch")
        for series in influx_db.query(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "run_id"')
    }
    assert len(runs["request_sketch"]) == 1 and len(runs["request"]) == 1, runs
    assert runs["request_sketch"] != runs["request"]

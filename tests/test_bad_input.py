"""Every bad input gets one clear line on stderr and exit 2 — never a traceback."""

from __future__ import annotations

import pytest

from tests.helpers import assert_one_line, harness

pytestmark = pytest.mark.influx


def test_right_password_passes_preflight(influxd_with_auth, tmp_path):
    proc = harness(
        "preflight",
        "--influx-url",
        influxd_with_auth.url,
        "--influx-user",
        "admin",
        "--influx-password",
        "right",
        "--thresholds-file",
        "baselines.yaml",
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("user,password", [("admin", "wrong"), ("nobody", "right"), ("", "")])
def test_wrong_credentials(influxd_with_auth, user, password):
    proc = harness(
        "preflight",
        "--influx-url",
        influxd_with_auth.url,
        "--influx-user",
        user,
        "--influx-password",
        password,
    )
    assert_one_line(proc, "credentials")
    assert "wrong" not in proc.stderr  # a password is never echoed


def test_wrong_credentials_stop_a_run_before_it_starts(influxd_with_auth, tmp_path):
    proc = harness(
        "run",
        "--influx-url",
        influxd_with_auth.url,
        "--influx-user",
        "admin",
        "--influx-password",
        "wrong",
        "--out",
        str(tmp_path),
    )
    assert_one_line(proc, "credentials")
    assert not (tmp_path / "verdict.json").exists()


def test_target_down_at_preflight(influxd, tmp_path):
    proc = harness(
        "run", "--target-host", "http://127.0.0.1:9", "--influx-url", influxd.url, "--out", str(tmp_path)
    )
    assert_one_line(proc, "http://127.0.0.1:9", "down")


def test_unreachable_influxdb_at_check():
    proc = harness("check", "--run-id", "x", "--influx-url", "http://127.0.0.1:9")
    assert_one_line(proc, "unreachable")


def test_unknown_run_at_check(influxd, tmp_path):
    proc = harness("check", "--run-id", "never-ran", "--influx-url", influxd.url, "--out", str(tmp_path))
    assert_one_line(proc, "never-ran", "no request points")


def test_an_unknown_recording_mode_is_refused_before_anything_starts(tmp_path):
    proc = harness(
        "run", "--influx-points", "all", "--influx-url", "http://127.0.0.1:9", "--out", str(tmp_path)
    )
    assert_one_line(proc, "--influx-points", "'all' is not one of requests, sketches, both")


def test_asking_for_sketches_a_requests_run_did_not_store(influxd, influx_db, tmp_path):
    influx_db.create_database()
    influx_db.write(
        b"request,run_id=only-requests,api=auth,method=GET,name=/health,result=ok,status=200,"
        b"test_env=t,worker=w response_time=1.5,response_length=2i 1767225600000000000\n"
    )
    proc = harness(
        "check",
        "--run-id",
        "only-requests",
        "--from",
        "sketches",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--out",
        str(tmp_path),
    )
    assert_one_line(proc, "only-requests", "stored no sketches", "--from requests")


@pytest.mark.parametrize(
    "text,needles",
    [
        ("apis: [1, 2\n", ["baselines", "YAML"]),
        ("warmup_s: -3\n", ["warmup_s"]),
        ("apis:\n  auth:\n    min_success_rate: 120\n", ["min_success_rate"]),
        ("apis:\n  auth:\n    max_p95_ms: fast\n", ["max_p95_ms"]),
    ],
)
def test_malformed_thresholds(tmp_path, text, needles):
    path = tmp_path / "baselines.yaml"
    path.write_text(text)
    proc = harness("run", "--thresholds-file", str(path), "--out", str(tmp_path))
    assert_one_line(proc)
    assert any(n in proc.stderr for n in needles), proc.stderr


def test_threshold_for_an_endpoint_the_scenarios_never_call(influxd, influx_db, tmp_path):
    path = tmp_path / "baselines.yaml"
    path.write_text('endpoints:\n  "GET /api/v1/nowhere": {max_p95_ms: 100}\n')
    proc = harness(
        "run",
        "--users",
        "10",
        "--spawn-rate",
        "10",
        "--run-time",
        "4s",
        "--thresholds-file",
        str(path),
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "GET /api/v1/nowhere" in proc.stdout and "verdict: ERROR" in proc.stdout


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--users", "0"),
        ("--spawn-rate", "fast"),
        ("--run-time", "1x"),
        ("--processes", "-1"),
        ("--influx-url", "not a url"),
    ],
)
def test_bad_values(flag, value):
    assert_one_line(harness("run", flag, value), flag)


def test_bad_fault_spec(influxd, tmp_path):
    proc = harness(
        "run", "--fault", "payments:error_rate=2", "--influx-url", influxd.url, "--out", str(tmp_path)
    )
    assert_one_line(proc, "error_rate")


def test_locust_with_unreachable_influxdb_is_one_line():
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
            "1",
            "-t",
            "2s",
            "--host",
            "http://127.0.0.1:9",
            "--influx-url",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if "error:" in line] == [
        "harness.listener: error: InfluxDB at http://127.0.0.1:9 is unreachable (connection refused)"
    ]

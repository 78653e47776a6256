"""Plain ``locust --verdict``: the master or local runner judges the run when Locust quits, exactly
as ``harness run`` does, and Locust's exit code is the verdict's (harness.listener.verdict)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.locust_process import private_master_arguments
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import LOCUSTFILE, ROOT

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def plain_locust(influxd, db: str, faults: list[str], extra: list[str], env: dict[str, str] | None = None):
    sandbox, host = start_subprocess(port=0, faults=faults)
    try:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                "20",
                "-r",
                "20",
                "-t",
                "15s",
                "--host",
                host,
                "--influx-url",
                influxd.url,
                "--influx-db",
                db,
                "--only-summary",
                "--stop-timeout",
                "5",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=150,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
    finally:
        stop_subprocess(sandbox)


def test_a_failing_target_makes_locust_exit_1_with_the_verdict_files_and_line(influxd, influx_db, tmp_path):
    out, message = tmp_path / "out", tmp_path / "termination-log"
    proc = plain_locust(
        influxd,
        influx_db.settings.database,
        ["payments:error_rate=0.5"],
        ["--verdict", "--out", str(out), "--termination-message", str(message)],
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["verdict"] == "fail" and verdict["exit_code"] == 1
    failed = {c["scope"] for c in verdict["checks"] if c["passed"] is False}
    assert failed and all("payments" in scope for scope in failed), failed
    assert {"junit.xml", "summary.md", "report.html"} <= {
        p.name for p in out.iterdir()
    }  # as harness run writes
    line = message.read_text().strip()
    assert line.startswith(f"FAIL run={verdict['run_id']} exit=1: ") and "payments" in line, line
    assert f"verdict: FAIL (run {verdict['run_id']}, exit 1)" in proc.stdout
    # Stored as harness check stores it: the run's summary and its verdict annotation.
    events = influx_db.query(
        f'SELECT "title" FROM "runs"."events" WHERE "type" = \'verdict\' '
        f"AND \"run_id\" = '{verdict['run_id']}'"
    )
    assert events and events[0]["values"][0][1] == "Verdict: fail"


def test_with_processes_and_VERDICT_from_the_environment_the_master_alone_judges_and_its_code_wins(
    influxd, influx_db, tmp_path
):
    # 2 % of the busiest endpoint's requests fail (~400 judged: none failing has a chance of
    # 0.98^400 = 0.03 %, more than 5 % about 1 in 100,000): within the 95 % limit, so the verdict
    # passes, while Locust on its own exits 1 whenever a request failed.
    out = tmp_path / "out"
    proc = plain_locust(
        influxd,
        influx_db.settings.database,
        ["GET /api/v1/generations/[id]:error_rate=0.02"],
        [
            "--processes",
            "2",
            "--out",
            str(out),
            "--json-file",
            str(tmp_path / "stats"),
            *private_master_arguments(),
        ],
        env={"VERDICT": "true"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("verdict: PASS") == 1 and "verdict: " not in proc.stdout.replace(
        "verdict: PASS", ""
    )
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["verdict"] == "pass" and verdict["completeness"]["workers"] == 2
    assert verdict["endpoints"]["GET /api/v1/generations/[id]"]["failures"] > 0  # Locust alone would say 1
    # Locust's own count went to the judge (the second witness of completeness) and to the run
    # point, as harness run stores it: equal to what Locust wrote and to what InfluxDB holds.
    counted = sum(e["num_requests"] for e in json.loads((tmp_path / "stats.json").read_text()))
    (row,) = influx_db.query(
        f'SELECT last("requests_counted") FROM "runs"."run" WHERE "run_id" = \'{verdict["run_id"]}\''
    )
    assert (
        row["values"][0][1] == counted == verdict["completeness"]["seen"] == verdict["completeness"]["stored"]
    )


def test_a_bad_thresholds_file_is_one_line_and_exit_2_before_a_user_starts(influxd, influx_db, tmp_path):
    proc = plain_locust(
        influxd,
        influx_db.settings.database,
        [],
        ["--verdict", "--thresholds-file", str(tmp_path / "missing.yaml")],
    )
    assert proc.returncode == 2
    assert "harness.listener: error:" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]

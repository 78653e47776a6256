"""A user's own API is first-class: a run of their own locustfile, judged by their own thresholds
file, is checked against their groups only — no built-in group warns that it saw nothing, and no
generation target is shown where no generations ran."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import ROOT, harness, stored_count

pytestmark = [pytest.mark.influx, pytest.mark.slow]

MINE = """\
warmup_s: 1
min_samples: 20
apis:
  ops: {min_success_rate: 99, max_p95_ms: 1000}
  catalog: {min_success_rate: 99, max_p95_ms: 1000}
"""


def test_harness_check_judges_a_users_own_api_by_its_own_groups(influxd, influx_db, tmp_path):
    sandbox, host = start_subprocess(port=0)
    db = influx_db.settings.database
    try:
        locust = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "tests" / "locustfile_own_api.py"),
                "--headless",
                "-u",
                "5",
                "-r",
                "5",
                "-t",
                "6s",
                "--host",
                host,
                "--influx-url",
                influxd.url,
                "--influx-db",
                db,
                "--run-id",
                "own-api",
                "--only-summary",
                "--stop-timeout",
                "5",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    finally:
        stop_subprocess(sandbox)
    assert locust.returncode == 0, locust.stderr[-2000:]
    assert stored_count(influx_db, "own-api") > 100
    (tmp_path / "mine.yaml").write_text(MINE)

    check = harness(
        "check",
        "--run-id",
        "own-api",
        "--thresholds-file",
        str(tmp_path / "mine.yaml"),
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--out",
        str(tmp_path / "out"),
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "verdict: PASS" in check.stdout
    assert "  ! " not in check.stdout, (
        check.stdout
    )  # no warning: not about 'auth', 'generation' or 'payments'
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert set(verdict["apis"]) == {"ops", "catalog"}
    assert {c["scope"] for c in verdict["checks"] if c["scope"].startswith("api:")} == {
        "api:ops",
        "api:catalog",
    }
    assert verdict["generation"]["target_per_s"] is None
    assert "Generations" not in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")

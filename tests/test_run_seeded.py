"""``harness run --seed-users``: Locust users log in as seeded accounts, which are removed after."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import harness

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def run(influxd, db, host, tmp_path, *extra):
    return harness(
        "run",
        "--users",
        "10",
        "--spawn-rate",
        "10",
        "--run-time",
        "6s",
        "--target-host",
        host,
        "--seed-users",
        "15",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--generation-target-per-s",
        "0",
        "--out",
        str(tmp_path / "out"),
        *extra,
        timeout=180,
        env={"HARNESS_STATE_DIR": str(tmp_path / "state")},
    )


def login(host, user) -> int:
    return requests.post(
        f"{host}/api/v1/auth/login", json={"email": user["email"], "password": user["password"]}, timeout=5
    ).status_code


@pytest.fixture
def sandbox():
    proc, url = start_subprocess(port=0)
    yield url
    stop_subprocess(proc)


def test_seeded_accounts_are_used_then_cleaned(influxd, influx_db, sandbox, tmp_path):
    kept = run(influxd, influx_db.settings.database, sandbox, tmp_path / "a", "--no-cleanup")
    assert kept.returncode in (0, 2), kept.stdout + kept.stderr  # a 6 s run may be too short to judge
    manifest_path = re.search(r"manifest (\S+)\)", kept.stdout).group(1)
    assert str(tmp_path) in manifest_path, "the manifest (with passwords) must not land in the report folder"
    users = json.loads(Path(manifest_path).read_text())["users"]
    assert len(users) == 15
    # The scenarios logged in as seeded users: their accounts hold the payments and generations.
    activity = 0
    for user in users:
        token = requests.post(
            f"{sandbox}/api/v1/auth/login",
            json={"email": user["email"], "password": user["password"]},
            timeout=5,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        activity += requests.get(f"{sandbox}/api/v1/payments", headers=headers, timeout=5).json()["total"]
        activity += requests.get(f"{sandbox}/api/v1/generations", headers=headers, timeout=5).json()["total"]
    assert activity > 10

    cleaned = run(influxd, influx_db.settings.database, sandbox, tmp_path / "b")
    assert "cleanup: removed 15 users" in cleaned.stdout, cleaned.stdout + cleaned.stderr
    manifest_b = re.search(r"manifest (\S+)\)", cleaned.stdout).group(1)
    assert all(login(sandbox, u) == 401 for u in json.loads(Path(manifest_b).read_text())["users"])

"""Helpers for tests that run real Locust processes (bounded in users, time and target)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "harness" / "locustfile.py"


def run_locust(host: str, influx_url: str, db: str, run_id: str, *, users: int = 30, run_time: str = "8s",
               extra: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 120):
    """Headless Locust with the listener; returns (completed process, total requests Locust counted).

    The count comes from Locust's --json-file (the master's, when there are workers)."""
    json_base = Path(tempfile.mkdtemp(prefix="locust-json-")) / "stats"
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
           "-r", str(users), "-t", run_time, "--host", host, "--influx-url", influx_url, "--influx-db", db,
           "--run-id", run_id, "--json-file", str(json_base), "--only-summary", "--stop-timeout", "5", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
    total = None
    json_file = json_base.with_suffix(".json")
    if json_file.exists():
        total = sum(entry["num_requests"] for entry in json.loads(json_file.read_text()))
    return proc, total


def stored_count(client, run_id: str) -> int:
    series = client.query(f"SELECT count(\"response_time\") FROM \"request\" WHERE \"run_id\" = '{run_id}'")
    return int(series[0]["values"][0][1]) if series else 0

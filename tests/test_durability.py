"""Nothing lost: InfluxDB going away mid-run, and a run stopped by a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.local import LocalInfluxd, find_influxd
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import ROOT, create_admin, harness, require, run_locust, stored_count

pytestmark = [pytest.mark.influx, pytest.mark.slow]


@pytest.fixture
def own_influxd(tmp_path):
    """An influxd this test may stop and restart (same port, same data)."""
    require("influxd", find_influxd() is not None, "apt-get install -y influxdb")
    server = LocalInfluxd(tmp_path / "influxd", port=0)
    server.start()
    yield server
    server.stop()


def test_influxdb_down_for_6_s_mid_run_loses_nothing(own_influxd, sandbox):
    port = own_influxd.port

    def outage():
        # Mid-run: two seconds after the listener's preflight is done (a fixed delay from the
        # start could fall inside a slow machine's preflight, which then fails the run).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "runs" not in policies(own_influxd.url, "outage"):
            time.sleep(0.05)
        time.sleep(2)
        own_influxd.stop()
        time.sleep(6)
        LocalInfluxd(own_influxd.root, port=port).start()

    thread = threading.Thread(target=outage)
    thread.start()
    proc, total = run_locust(sandbox, own_influxd.url, "outage", "outage", users=20, run_time="16s")
    thread.join()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "InfluxDB write failed" in proc.stderr, "the outage did not happen during the run"
    client = InfluxClient(InfluxSettings(url=own_influxd.url, database="outage"))
    assert total and total > 200
    assert stored_count(client, "outage") == total


def test_sigterm_mid_run_stores_what_was_sent(influxd, influx_db, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--users",
        "20",
        "--spawn-rate",
        "20",
        "--run-time",
        "60s",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--run-id",
        "sigterm",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(10)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err  # interrupted: never a pass
    locust_total = sum(e["num_requests"] for e in json.loads((tmp_path / "locust_stats.json").read_text()))
    assert locust_total > 100
    assert stored_count(influx_db, "sigterm") == locust_total
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["completeness"]["missing"] == 0
    assert any("interrupted" in w for w in verdict["warnings"])
    status = influx_db.query('SELECT "status" FROM "runs"."run" WHERE "run_id" = \'sigterm\'')
    assert status[0]["values"][-1][1] == "interrupted"


def policies(url: str, db: str) -> set[str]:
    """The retention policies of ``db``; empty while it does not exist."""
    return _names(url, f'SHOW RETENTION POLICIES ON "{db}"')


def _names(url: str, statement: str) -> set[str]:
    try:
        answer = requests.get(f"{url}/query", params={"q": statement}, timeout=2).json()
    except (requests.RequestException, ValueError):
        return set()
    return {
        row[0]
        for result in answer.get("results", [])
        for series in result.get("series", [])
        for row in series.get("values", [])
    }


def spool_bytes(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def flush(spool, url: str, *credentials: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return harness(
        "flush",
        "--spool-dir",
        str(spool),
        "--influx-url",
        url,
        "--influx-db",
        "down",
        *credentials,
        timeout=timeout,
    )


def test_influxdb_down_for_the_whole_run_then_flush_only_deletes_what_influxdb_stored(
    own_influxd, sandbox, tmp_path
):
    port, spool = own_influxd.port, tmp_path / "spool"

    def outage():
        # Once the listener's preflight has created the database and its "runs" policy (its last
        # step: stopped between the two, the preflight fails and Locust exits, as CI saw once),
        # before its first flush (a second later): waiting for that, not a fixed time, holds on a
        # machine slow to start Locust.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "runs" not in policies(own_influxd.url, "down"):
            time.sleep(0.05)
        own_influxd.stop()

    thread = threading.Thread(target=outage)
    thread.start()
    proc, total = run_locust(
        sandbox,
        own_influxd.url,
        "down",
        "down",
        users=20,
        run_time="10s",
        extra=["--influx-spool-dir", str(spool), "--influx-flush-timeout", "2"],
    )
    thread.join()
    assert total and total > 100
    assert "harness flush" in proc.stderr, proc.stderr[-2000:]
    files = list(spool.rglob("*.lp.gz"))
    assert files, "nothing was spooled"
    # Batches, not points: 20 users for 10 s fill a few files, not one per flush or per second.
    assert len(files) <= 6, sorted(f.name for f in files)

    # Back, with authentication on (the moment credentials and URLs are being fixed).
    back = LocalInfluxd(own_influxd.root, port=port, auth=True)
    back.start()
    create_admin(back)
    before = spool_bytes(spool)
    for url, credentials, needle in [
        (own_influxd.url, ["--influx-user", "admin", "--influx-password", "wrong"], "credentials"),
        (sandbox, [], "HTTP 404"),
    ]:  # a URL that is not InfluxDB
        refused = flush(spool, url, *credentials)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert (
            refused.stderr.count("\n") == 1 and needle in refused.stderr and "Traceback" not in refused.stderr
        )
        assert spool_bytes(spool) == before, "a refused flush changed the spool"

    right = ["--influx-user", "admin", "--influx-password", "right"]
    client = InfluxClient(
        InfluxSettings(url=own_influxd.url, database="down", username="admin", password="right")
    )
    assert stored_count(client, "down") < total, "the outage did not cover the run"
    done = flush(spool, own_influxd.url, *right)
    assert done.returncode == 0, done.stderr
    assert stored_count(client, "down") == total
    assert not list(spool.rglob("*.lp.gz")), "replayed files must be removed"
    again = flush(spool, own_influxd.url, *right, timeout=60)
    assert again.returncode == 0 and "nothing spooled" in again.stdout
    assert stored_count(client, "down") == total  # a second flush doubles nothing


def test_lines_influxdb_refuses_during_a_run_are_quarantined_and_counted(influxd, influx_db, tmp_path):
    # An earlier writer stored `error` as an integer: every failed request's line (error="…")
    # now conflicts, while the successful ones are fine.
    db = influx_db.settings.database
    influx_db.create_database()
    # (now: InfluxDB 1.x keeps field types per shard, and shards cover a day)
    influx_db.write(f"request,run_id=earlier error=1i,response_time=1.0 {time.time_ns()}\n".encode())
    proc, url = start_subprocess(port=0, faults=["payments:error_rate=0.5"])
    try:
        locust, total = run_locust(
            url,
            influxd.url,
            db,
            "conflict",
            users=10,
            run_time="8s",
            extra=["--influx-spool-dir", str(tmp_path / "spool")],
        )
    finally:
        stop_subprocess(proc)
    assert locust.returncode in (0, 1), locust.stderr[-2000:]  # 1: Locust's own failure ratio
    quarantine = next((tmp_path / "spool").rglob("quarantine.lp"))
    kept = [line for line in quarantine.read_text().splitlines() if not line.startswith("#")]
    assert kept and all(line.startswith("request,") and ' error="' in line for line in kept)
    assert "field type conflict" in quarantine.read_text()
    assert stored_count(influx_db, "conflict") + len(kept) == total  # nothing lost: stored or kept

    check = harness(
        "check",
        "--run-id",
        "conflict",
        "--influx-url",
        influxd.url,
        "--influx-db",
        db,
        "--out",
        str(tmp_path / "check"),
        "--no-store",
        timeout=120,
    )
    verdict = json.loads((tmp_path / "check" / "verdict.json").read_text())
    assert verdict["completeness"]["quarantined"] == len(kept), check.stdout
    assert f"InfluxDB refused {len(kept)} request points one by one" in check.stdout
    assert check.returncode in (1, 2)  # never a pass; 1 when the payment errors fail their limit

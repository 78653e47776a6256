"""Helpers shared by the tests: the harness CLI and Locust as subprocesses (bounded in users, time
and target), loud skips, and small readers of what a user sees. Fixtures built on them live in
tests/conftest.py."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests

from harness.influx.local import LocalInfluxd, free_port

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "harness" / "locustfile.py"
DASHBOARD_FILES = {
    "loadtest-live": ROOT / "dashboards" / "load-test-live.json",
    "loadtest-history": ROOT / "dashboards" / "load-test-history.json",
}

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Settings a developer's shell may hold that would change what a test run asks for.
_SCRUB = (
    "INFLUX_",
    "TARGET_HOST",
    "RUN_TIME",
    "USERS",
    "RATES",
    "ARRIVALS",
    "RATE_PROFILE",
    "MAX_LATENESS",
    "SPAWN_RATE",
    "PROCESSES",
)


def require(component: str, present: bool, hint: str) -> None:
    """Skip loudly when a component is missing; in CI (CI=true) fail instead: a green run must
    never hide a component that was not installed."""
    if present:
        return
    message = f"{component} is not installed ({hint})"
    if IN_CI:
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


def create_admin(server: LocalInfluxd, password: str = "right") -> None:
    """With auth on, 1.x lets the very first admin be created without credentials."""
    requests.post(
        f"{server.url}/query",
        data={"q": f"CREATE USER admin WITH PASSWORD '{password}' WITH ALL PRIVILEGES"},
        timeout=10,
    ).raise_for_status()


# -- the harness CLI --------------------------------------------------------------------------
def harness_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}


def harness(
    *args: str, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``harness ARGS`` as a user runs it, from the repository, without the developer's settings
    (plus ``env``)."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**harness_env(), **(env or {})},
    )


def assert_one_line(proc, *needles: str) -> None:
    """Bad input: exit 2, one line naming what was wrong, no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in err, err


def parse_flags(*argv: str) -> argparse.Namespace:
    """The settings' flags as the harness commands parse them."""
    from harness.settings import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


# -- Locust -----------------------------------------------------------------------------------
def run_locust(
    host: str,
    influx_url: str,
    db: str,
    run_id: str,
    *,
    users: int = 30,
    run_time: str = "8s",
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
):
    """Headless Locust with the listener; returns (completed process, total requests Locust counted).

    The count comes from Locust's --json-file (the master's, when there are workers)."""
    json_base = Path(tempfile.mkdtemp(prefix="locust-json-")) / "stats"
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        run_time,
        "--host",
        host,
        "--influx-url",
        influx_url,
        "--influx-db",
        db,
        "--run-id",
        run_id,
        "--json-file",
        str(json_base),
        "--only-summary",
        "--stop-timeout",
        "5",
        *extra,
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT
    )
    total = None
    json_file = json_base.with_suffix(".json")
    if json_file.exists():
        total = sum(entry["num_requests"] for entry in json.loads(json_file.read_text()))
    return proc, total


class LocustCluster:
    """Locust's own master and workers, started apart as on several machines, on a free port.

    Every process writes its stderr to a file in ``directory`` (a pipe nobody reads could fill and
    block it); ``stop`` kills whatever still runs (the fixture calls it)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.master: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._logs: dict[int, Path] = {}

    def _locust(self, name: str, *args: str) -> subprocess.Popen:
        log = self.directory / f"{name}.log"
        with open(log, "w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        self._logs[proc.pid] = log
        return proc

    def start(self, *master_args: str, workers: int = 2) -> LocustCluster:
        """A headless master expecting ``workers`` workers, then the workers."""
        self.master = self._locust(
            "master",
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(self.port),
            "--headless",
            "--expect-workers",
            str(workers),
            *master_args,
        )
        for _ in range(workers):
            self.add_worker()
        return self

    def add_worker(self) -> subprocess.Popen:
        worker = self._locust(
            f"worker{len(self.workers) + 1}",
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(self.port),
        )
        self.workers.append(worker)
        return worker

    def wait(self, timeout_s: float = 120) -> int:
        """The master's exit code, once it and every worker have ended."""
        assert self.master is not None, "start() first"
        code = self.master.wait(timeout=timeout_s)
        for worker in self.workers:
            worker.wait(timeout=60)
        return code

    def log(self, proc: subprocess.Popen) -> str:
        return self._logs[proc.pid].read_text()

    @property
    def master_log(self) -> str:
        assert self.master is not None, "start() first"
        return self.log(self.master)

    @property
    def worker_logs(self) -> list[str]:
        return [self.log(worker) for worker in self.workers]

    def stop(self) -> None:
        for proc in [self.master, *self.workers]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def request_tags(
    run_id: str, api: str, method: str, name: str, status: str, worker: str = "w1"
) -> dict[str, str]:
    """The tags of a ``request`` point as the listener writes them (result from the status)."""
    return {
        "run_id": run_id,
        "test_env": "test",
        "worker": worker,
        "api": api,
        "method": method,
        "name": name,
        "status": status,
        "result": "ok" if status.startswith(("2", "3")) else "fail",
    }


def stored_count(client, run_id: str) -> int:
    series = client.query(f'SELECT count("response_time") FROM "request" WHERE "run_id" = \'{run_id}\'')
    return int(series[0]["values"][0][1]) if series else 0


def web_ui_locust(
    port: int, host: str, influxd: LocalInfluxd, database: str, *extra: str
) -> subprocess.Popen:
    """Locust's web UI on a loopback port with the project's locustfile and listener, writing to
    ``database``; tests start and stop tests through its HTTP API and terminate it themselves."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--host",
            host,
            "--influx-url",
            influxd.url,
            "--influx-db",
            database,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(url: str, timeout_s: float = 30) -> None:
    """Until ``url`` answers 200 (the bound only guards against a hang)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


# -- what a user reads ------------------------------------------------------------------------
def load_dashboards() -> dict[str, dict]:
    """The provisioned Grafana dashboards by uid."""
    return {uid: json.loads(path.read_text(encoding="utf-8")) for uid, path in DASHBOARD_FILES.items()}


def chromium(path: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium where every name resolves to nothing: a page that tried to fetch anything
    would show it broken."""
    return subprocess.run(
        [
            path,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )

"""Run a local ``influxd`` (Debian's ``influxdb`` 1.x package, or any ``influxd`` on PATH) on
loopback, with its config, data, log and PID under a state directory — so a user without
Docker gets a real InfluxDB in one step, and tests get a private one on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from harness.errors import HarnessError

INSTALL_HINT = (
    "install it with 'apt-get install -y influxdb' (Debian/Ubuntu), or run InfluxDB in Docker: "
    "'docker compose -f docker-compose.monitoring.yml up -d influxdb'"
)

CONFIG_TEMPLATE = """\
reporting-enabled = false
bind-address = "{host}:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "{host}:{port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_influxd() -> str | None:
    return shutil.which("influxd") or next(
        (p for p in ("/usr/bin/influxd", "/usr/local/bin/influxd") if os.access(p, os.X_OK)), None
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


@dataclass
class LocalInfluxd:
    root: Path  # everything lives here: config, meta/data/wal, log, pid
    host: str = "127.0.0.1"
    port: int = 8086  # 0: pick a free port
    auth: bool = False  # 1.x auth-enabled (tests of wrong credentials)

    @property
    def pid_file(self) -> Path:
        return self.root / "influxd.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "influxd.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def running_pid(self) -> int | None:
        try:
            pid, port = self.pid_file.read_text().split()
        except (FileNotFoundError, ValueError):
            return None
        if _alive(int(pid)):
            self.port = int(port)
            return int(pid)
        return None

    def start(self, wait_s: float = 30.0) -> str:
        """Start influxd (or find it running); return its URL once /ping answers."""
        if self.running_pid():
            return self.url
        binary = find_influxd()
        if not binary:
            raise HarnessError(f"influxd not found; {INSTALL_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port(self.host)
        elif not _port_free(self.host, self.port):
            raise HarnessError(f"port {self.host}:{self.port} is in use; choose another with --port")
        config = self.root / "influxdb.conf"
        config.write_text(
            CONFIG_TEMPLATE.format(
                host=self.host,
                port=self.port,
                rpc_port=free_port(self.host),
                root=self.root.resolve(),
                auth=str(self.auth).lower(),
            )
        )
        with open(self.log_file, "ab") as log:
            # A session of its own, so the server outlives the command that started it and
            # a Ctrl-C in that terminal does not reach it.
            proc = subprocess.Popen(
                [binary, "run", "-config", str(config)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid} {self.port}\n")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise HarnessError(f"influxd exited at start (code {proc.returncode}): {tail[0][:200]}")
            try:
                if requests.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    return self.url
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise HarnessError(f"influxd did not answer on {self.url} within {wait_s:.0f} s; see {self.log_file}")

    def stop(self, wait_s: float = 15.0) -> bool:
        """Stop the server by its PID; True if one was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True

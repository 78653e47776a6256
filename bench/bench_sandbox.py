"""Sandbox throughput: keep-alive requests per second against a real `python -m harness.sandbox`.

The server runs as a child process (pinned to CPU 0 when the machine has more than one), the
client here (pinned to CPU 1): raw keep-alive HTTP/1.1 over gevent sockets, one greenlet per
connection, each sending its next request as soon as the previous answer is read. Every case
is bounded in time; the target is 127.0.0.1 only.

    /work/venv/bin/python bench/bench_sandbox.py [--seconds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import gevent
import psutil
from gevent import socket

from harness.sandbox.process import start_subprocess, stop_subprocess

MAX_SECONDS = 30.0


@dataclass
class Case:
    name: str
    method: str
    path: str
    connections: int
    body: bytes = b""
    auth: bool = False


@dataclass
class Result:
    case: Case
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float = 0.0

    def row(self) -> dict[str, object]:
        lat = sorted(self.latencies_ms) or [0.0]
        return {
            "case": self.case.name,
            "connections": self.case.connections,
            "requests": self.requests,
            "non_2xx": self.errors,
            "seconds": round(self.seconds, 2),
            "rps": round(self.requests / self.seconds),
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
            # Near 100 % means the server's one core is the limit, not the client.
            "server_cpu_pct": round(100 * self.server_cpu_s / self.seconds),
        }


def _request_bytes(case: Case, host: str, token: str | None) -> bytes:
    lines = [f"{case.method} {case.path} HTTP/1.1", f"Host: {host}"]
    if case.auth and token:
        lines.append(f"Authorization: Bearer {token}")
    if case.body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(case.body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + case.body


def _read_response(sock: socket.socket, pending: bytearray) -> int:
    """Read one response off a keep-alive connection; returns its status code."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        pending += chunk
    head_end = pending.index(b"\r\n\r\n") + 4
    head = bytes(pending[:head_end]).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    while len(pending) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        pending += chunk
    del pending[: head_end + length]
    return status


def _connection_loop(address: tuple[str, int], request: bytes, deadline: float, result: Result) -> None:
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = bytearray()
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            sock.sendall(request)
            status = _read_response(sock, pending)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.requests += 1
            if not 200 <= status < 300:
                result.errors += 1
    finally:
        sock.close()


def _cpu_s(server: psutil.Process) -> float:
    times = server.cpu_times()
    return times.user + times.system


def run_case(
    address: tuple[str, int], case: Case, seconds: float, token: str | None, server: psutil.Process
) -> Result:
    result = Result(case, 0, 0, 0.0, [])
    cpu_before = _cpu_s(server)
    request = _request_bytes(case, f"{address[0]}:{address[1]}", token)
    started = time.perf_counter()
    deadline = started + seconds
    workers = [
        gevent.spawn(_connection_loop, address, request, deadline, result) for _ in range(case.connections)
    ]
    gevent.joinall(workers, raise_error=True)
    result.seconds = time.perf_counter() - started
    result.server_cpu_s = _cpu_s(server) - cpu_before
    return result


def _login(address: tuple[str, int]) -> tuple[str, str]:
    """Register and log in one user; returns (token, task_id) for the authenticated cases."""
    import requests  # only for setup; the measured loop uses raw sockets

    base = f"http://{address[0]}:{address[1]}"
    user = {"email": "bench@example.com", "password": "bench-password", "name": "Bench"}
    requests.post(f"{base}/api/v1/auth/register", json=user, timeout=5).raise_for_status()
    login = requests.post(f"{base}/api/v1/auth/login", json=user, timeout=5)
    token = login.json()["access_token"]
    task = requests.post(
        f"{base}/api/v1/generations",
        json={"prompt": "bench"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return token, task.json()["task_id"]


def _pin(pid: int, cpu: int) -> None:
    # Two processes on two cores measure the server, not the client's share of one core.
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {cpu})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each case (max 30)")
    parser.add_argument(
        "--connections", type=int, default=16, help="keep-alive connections for the concurrent cases"
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a Markdown table")
    args = parser.parse_args(argv)
    seconds = min(max(args.seconds, 0.5), MAX_SECONDS)

    proc, url = start_subprocess()
    try:
        _pin(proc.pid, 0)
        _pin(0, 1)
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        token, task_id = _login(address)
        payment = json.dumps({"amount": 9.99, "currency": "USD", "method": "card"}).encode()
        cases = [
            Case("GET /health", "GET", "/health", 1),
            Case("GET /health", "GET", "/health", args.connections),
            Case(
                "GET /api/v1/generations/[id]",
                "GET",
                f"/api/v1/generations/{task_id}",
                args.connections,
                auth=True,
            ),
            Case("POST /api/v1/payments", "POST", "/api/v1/payments", args.connections, payment, auth=True),
        ]
        server = psutil.Process(proc.pid)
        results = [run_case(address, case, seconds, token, server).row() for case in cases]
    finally:
        stop_subprocess(proc)

    if args.json:
        for row in results:
            print(json.dumps(row))
    else:
        columns = list(results[0])
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in results:
            print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

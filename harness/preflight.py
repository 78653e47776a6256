"""Checks before a single user starts: the target answers, InfluxDB is reachable, the
credentials are accepted, the database (and the runs retention policy) exist."""

from __future__ import annotations

import requests

from harness.errors import HarnessError
from harness.influx.client import InfluxClient
from harness.influx.schema import ensure_database


def check_target(host: str, timeout_s: float = 5.0) -> None:
    url = host.rstrip("/") + "/health"
    try:
        response = requests.get(url, timeout=timeout_s)
    except requests.RequestException as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        raise HarnessError(f"target {host} is down: GET /health failed ({reason})") from None
    if response.status_code >= 400:
        raise HarnessError(f"target {host} is unhealthy: GET /health answered HTTP {response.status_code}")


def check_influx(client: InfluxClient, runs_rp: str) -> str:
    """Returns the server's version."""
    version = client.ping()
    ensure_database(client, runs_rp, version)
    return version

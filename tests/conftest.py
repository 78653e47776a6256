"""Shared fixtures: a real influxd on a free loopback port with its own data directory.

In CI (CI=true) a missing influxd or chromium is a failure, not a skip: a green run must never
hide a component that was not installed."""

from __future__ import annotations

import os
import shutil

import pytest
import requests

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.local import LocalInfluxd, find_influxd

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(component: str, present: bool, hint: str) -> None:
    if present:
        return
    message = f"{component} is not installed ({hint})"
    if IN_CI:
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """A private influxd for the whole session; stopped by its PID at the end."""
    require("influxd", find_influxd() is not None, "apt-get install -y influxdb")
    server = LocalInfluxd(tmp_path_factory.mktemp("influxd"), port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influx_db(influxd, request):
    """A fresh, empty database name per test, so tests never see each other's points."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    client = InfluxClient(InfluxSettings(url=influxd.url, database=name))
    client.query_results(f'DROP DATABASE "{name}"', method="POST", epoch="")
    return client


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require("chromium", path is not None, "apt-get install -y chromium")
    return path


def create_admin(server: LocalInfluxd, password: str = "right") -> None:
    """With auth on, 1.x lets the very first admin be created without credentials."""
    requests.post(f"{server.url}/query", data={"q": f"CREATE USER admin WITH PASSWORD '{password}' WITH ALL PRIVILEGES"},
                  timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def influxd_with_auth(tmp_path_factory):
    """A second influxd with authentication on; user ``admin``, password ``right``."""
    require("influxd", find_influxd() is not None, "apt-get install -y influxdb")
    server = LocalInfluxd(tmp_path_factory.mktemp("influxd-auth"), port=0, auth=True)
    server.start()
    create_admin(server)
    yield server
    server.stop()

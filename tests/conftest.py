"""Shared fixtures: a real influxd on a free loopback port with its own data directory, the
sandbox, Locust's master with workers, and Chromium.

Under pytest-xdist (make test) each worker process has its own session: its own influxd on its own
port and data directory, so parallel tests never share a server. In CI (CI=true) a missing influxd
or chromium is a failure, not a skip (tests/helpers.py, ``require``), in every worker."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.local import LocalInfluxd, find_influxd
from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.helpers import LocustCluster, create_admin, require


def pytest_collection_modifyitems(config, items):
    """Modules with the most real runs (tests marked slow) first, the order inside each module
    kept: under pytest-xdist (make test: --dist loadfile --no-loadscope-reorder) a long module
    handed out last would keep one worker busy while the others sit idle."""
    slow = Counter(item.module.__name__ for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.module.__name__])  # a stable sort: modules stay whole


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """A private influxd for the whole session (of this xdist worker); stopped by its PID at the end."""
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


@pytest.fixture(scope="session")
def influxd_with_auth(tmp_path_factory):
    """A second influxd with authentication on; user ``admin``, password ``right``."""
    require("influxd", find_influxd() is not None, "apt-get install -y influxdb")
    server = LocalInfluxd(tmp_path_factory.mktemp("influxd-auth"), port=0, auth=True)
    server.start()
    create_admin(server)
    yield server
    server.stop()


@pytest.fixture
def sandbox():
    """The built-in sandbox API on a free port, for one test: its base URL."""
    proc, url = start_subprocess(port=0)
    yield url
    stop_subprocess(proc)


@pytest.fixture
def locust_cluster(tmp_path):
    """Locust's master and workers started apart (``locust_cluster.start(...)``); whatever still
    runs at the end is killed. Their logs are in tmp_path."""
    cluster = LocustCluster(tmp_path)
    yield cluster
    cluster.stop()

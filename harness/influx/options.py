"""InfluxDB options shared by ``check``, ``run``, ``preflight`` and ``report`` (the names and
environment variables of harness.settings, so every command reads the same settings)."""

from __future__ import annotations

import os
from pathlib import Path

from harness.influx.client import InfluxClient, InfluxSettings
from harness.settings import PARAMS, Settings, default_env_file, resolve

INFLUX_PARAMS = {"INFLUX_URL", "INFLUX_DB", "INFLUX_TOKEN", "INFLUX_USER", "INFLUX_PASSWORD"}


def add_influx_arguments(parser, extra: set[str] = frozenset()) -> None:
    """The --influx-* flags (and any other named settings) with the settings' help and env."""
    group = parser.add_argument_group("InfluxDB and settings (flag > environment > .env.load-testing > default)")
    group.add_argument("--env-file", dest="env_file", type=Path, default=None, metavar="PATH",
                       help="KEY=VALUE settings file (default: .env.load-testing if present)")
    group.add_argument("--influx-runs-rp", default=os.environ.get("INFLUX_RUNS_RP", "runs"),
                       help="retention policy of long-lived run data ('' = default RP) [env INFLUX_RUNS_RP]")
    for p in PARAMS:
        if p.env in INFLUX_PARAMS or p.env in extra:
            group.add_argument(p.flag, dest=p.dest, default=None, metavar=p.env,
                               help=f"{p.help} (env {p.env})")


def settings_from(args) -> Settings:
    return resolve(args, os.environ, default_env_file())


def client_from(settings: Settings) -> InfluxClient:
    return InfluxClient(InfluxSettings(url=settings.influx_url, database=settings.influx_db,
                                       token=settings.influx_token, username=settings.influx_user,
                                       password=settings.influx_password))

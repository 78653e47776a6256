"""The settings of a ``harness`` command, and the InfluxDB client they describe."""

from __future__ import annotations

import argparse
import os

from harness.influx.client import InfluxClient, InfluxSettings
from harness.settings import Settings, default_env_file, resolve


def settings_from(args: argparse.Namespace) -> Settings:
    return resolve(args, os.environ, default_env_file())


def client_from(settings: Settings) -> InfluxClient:
    return InfluxClient(
        InfluxSettings(
            url=settings.influx_url,
            database=settings.influx_db,
            token=settings.influx_token,
            username=settings.influx_user,
            password=settings.influx_password,
        )
    )

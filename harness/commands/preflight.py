"""``harness preflight``: the checks ``harness run`` makes before a single user starts."""

from __future__ import annotations

from harness.exitcodes import ExitCode
from harness.influx.options import client_from, settings_from
from harness.preflight import check_influx, check_target
from harness.settings import PREFLIGHT, add_arguments
from harness.verdict import load_thresholds


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "preflight", help="check target, InfluxDB, credentials, database, thresholds"
    )
    add_arguments(parser, PREFLIGHT)
    parser.set_defaults(func=run)


def run(args) -> int:
    settings = settings_from(args)
    load_thresholds(settings.thresholds_file)
    print(f"thresholds: {settings.thresholds_file} ok")
    version = check_influx(client_from(settings), settings.influx_runs_rp)
    print(f"influxdb: {settings.influx_url} (version {version}), database {settings.influx_db} ok")
    if settings.target_host:
        check_target(settings.target_host)
        print(f"target: {settings.target_host} healthy")
    else:
        print("target: built-in sandbox (started by harness run)")
    return ExitCode.PASS

"""``harness flush``: replay what listeners spooled to disk while InfluxDB was away.

A spooled file is deleted only once InfluxDB confirmed it. When InfluxDB refuses (credentials,
permissions, a missing database, a URL that is not InfluxDB), nothing is deleted and the
command exits 2 naming the cause; lines InfluxDB refuses one by one go to the folder's
quarantine file and are counted by the verdict."""

from __future__ import annotations

from pathlib import Path

from harness.commands.common import flush_spool
from harness.exitcodes import ExitCode
from harness.influx.options import client_from, settings_from
from harness.influx.spool import quarantine_files
from harness.settings import FLUSH, add_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "flush", help="send spooled points to InfluxDB (after an outage)", description=__doc__
    )
    add_arguments(parser, FLUSH)
    parser.set_defaults(func=run)


def run(args) -> int:
    settings = settings_from(args)
    client = client_from(settings)
    client.ping()
    root = Path(settings.influx_spool_dir)
    result = flush_spool(client, root)
    if not result.folders:
        print(f"nothing spooled for database {settings.influx_db} in {root}")
        kept = quarantine_files(root, settings.influx_db)
        if kept:
            print(f"  (lines InfluxDB refused earlier are kept in {', '.join(map(str, kept))})")
        return ExitCode.PASS
    print(
        f"flushed {result.written} points from {result.folders} spool folders to {settings.influx_url}, "
        f"database {settings.influx_db}"
    )
    if result.quarantined:
        print(
            f"harness: warning: InfluxDB refused {result.quarantined} lines one by one; they are kept, with "
            f"the reasons, in {', '.join(map(str, result.quarantine_files))}"
        )
    return ExitCode.PASS

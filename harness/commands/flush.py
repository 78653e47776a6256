"""``harness flush``: replay what listeners spooled to disk while InfluxDB was away."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.influx.options import client_from, settings_from
from harness.influx.spool import Spool, spooled_dirs
from harness.influx.writer import BatchWriter
from harness.settings import FLUSH, add_arguments


def register(subparsers) -> None:
    parser = subparsers.add_parser("flush", help="send spooled points to InfluxDB (after an outage)")
    add_arguments(parser, FLUSH)
    parser.set_defaults(func=run)


def flush_spool(client, spool_root: Path) -> tuple[int, int]:
    """Replay every spooled batch of the client's database; returns (points written, folders)."""
    folders = spooled_dirs(spool_root, client.settings.database)
    written = 0
    for folder in folders:
        writer = BatchWriter(client, max_pending_points=0, spool=Spool(folder))
        remaining = writer.spooled_points
        if not writer.send_pending():
            raise HarnessError(f"InfluxDB did not take the spooled points ({writer.counts.first_error}); "
                               f"{writer.spooled_points} of {remaining} points remain in {folder}")
        written += writer.counts.written
    return written, len(folders)


def run(args) -> int:
    settings = settings_from(args)
    client = client_from(settings)
    client.ping()
    spool_dir = Path(settings.influx_spool_dir)
    written, folders = flush_spool(client, spool_dir)
    print(f"flushed {written} points from {folders} spool folders to {settings.influx_url}, "
          f"database {settings.influx_db}" if folders else f"nothing spooled for database {settings.influx_db} "
          f"in {spool_dir}")
    return ExitCode.PASS

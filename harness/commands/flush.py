"""``harness flush``: replay what listeners spooled to disk while InfluxDB was away.

A spooled file is deleted only once InfluxDB confirmed it. When InfluxDB refuses (credentials,
permissions, a missing database, a URL that is not InfluxDB), nothing is deleted and the
command exits 2 naming the cause; lines InfluxDB refuses one by one go to the folder's
quarantine file and are counted by the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.influx.options import client_from, settings_from
from harness.influx.spool import Spool, quarantine_files, spooled_dirs
from harness.influx.writer import BatchWriter
from harness.settings import FLUSH, add_arguments

RETRY_S = 10.0  # how long a flush retries a flaky InfluxDB (network errors, 5xx) before giving up


def register(subparsers) -> None:
    parser = subparsers.add_parser("flush", help="send spooled points to InfluxDB (after an outage)",
                                   description=__doc__)
    add_arguments(parser, FLUSH)
    parser.set_defaults(func=run)


@dataclass
class FlushResult:
    written: int = 0  # points InfluxDB confirmed
    folders: int = 0
    quarantined: int = 0  # lines InfluxDB refused one by one
    quarantine_files: list[Path] = field(default_factory=list)


def flush_spool(client, spool_root: Path, retry_s: float = RETRY_S) -> FlushResult:
    """Replay every spooled batch of the client's database, folder by folder, oldest first.

    Raises HarnessError (one line) when InfluxDB refuses or stays away: what it did not
    confirm is still in the spool."""
    result = FlushResult()
    for folder in spooled_dirs(spool_root, client.settings.database):
        spool = Spool(folder)
        waiting = spool.points
        # The folder is <database>/<run id>/<worker>: the quarantine record says whose lines they were.
        writer = BatchWriter(client, max_pending_points=0, spool=spool,
                             record_tags={"run_id": folder.parent.name, "worker": folder.name})
        writer.drain(retry_s)
        result.written += writer.counts.written
        result.folders += 1
        if writer.counts.quarantined:
            result.quarantined += writer.counts.quarantined
            result.quarantine_files.append(spool.quarantine_file)
        if not writer.idle:
            cause = writer.refused or writer.counts.first_error
            raise HarnessError(f"InfluxDB did not take the spooled points ({cause}); nothing it did not confirm "
                               f"was deleted: {writer.spooled_points} of {waiting} points wait in {folder}")
    return result


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
    print(f"flushed {result.written} points from {result.folders} spool folders to {settings.influx_url}, "
          f"database {settings.influx_db}")
    if result.quarantined:
        print(f"harness: warning: InfluxDB refused {result.quarantined} lines one by one; they are kept, with "
              f"the reasons, in {', '.join(map(str, result.quarantine_files))}")
    return ExitCode.PASS

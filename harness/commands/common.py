"""What several commands share: the run id they need, the generation target in force, how a verdict
is printed, replaying the spool, the local state folder. Commands import this module, never each other."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness import conclude
from harness.conclude import print_verdict  # noqa: F401 (the commands print a verdict from here)
from harness.errors import HarnessError
from harness.influx.spool import Spool, spooled_dirs
from harness.influx.writer import BatchWriter

RETRY_S = 10.0  # how long a flush retries a flaky InfluxDB (network errors, 5xx) before giving up


def required_run_id(settings) -> str:
    if not settings.run_id:
        raise HarnessError("which run? give --run-id (or RUN_ID)")
    return settings.run_id


def generation_target(settings, thresholds) -> float | None:
    """The run's generation target; a value the user set (flag, env, file) wins over baselines.yaml."""
    chosen = (
        settings.generation_target_per_s
        if settings.sources.get("generation_target_per_s", "default") != "default"
        else None
    )
    return conclude.generation_target(thresholds, chosen)


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
        writer = BatchWriter(
            client,
            max_pending_points=0,
            spool=spool,
            record_tags={"run_id": folder.parent.name, "worker": folder.name},
        )
        writer.drain(retry_s)
        result.written += writer.counts.written
        result.folders += 1
        if writer.counts.quarantined:
            result.quarantined += writer.counts.quarantined
            result.quarantine_files.append(spool.quarantine_file)
        if not writer.idle:
            cause = writer.refused or writer.counts.first_error
            raise HarnessError(
                f"InfluxDB did not take the spooled points ({cause}); nothing it did not confirm "
                f"was deleted: {writer.spooled_points} of {waiting} points wait in {folder}"
            )
    return result


def default_state_dir() -> Path:
    """The folder for local state (InfluxDB's data, seed manifests): $HARNESS_STATE_DIR or .state."""
    return Path(os.environ.get("HARNESS_STATE_DIR", ".state"))

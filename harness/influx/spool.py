"""An on-disk spool of batches that InfluxDB could not take in time.

One folder per database, run and worker: ``<root>/<database>/<run_id>/<worker>/<seq>.<rp>.lp.gz``.
A file holds one batch exactly as it would be sent (gzip of the line protocol), so a replay is
byte-identical to the first attempt: a point that did land before a timeout is overwritten by
itself, never doubled. Files are replayed in sequence order and deleted only once InfluxDB
confirmed them. Lines InfluxDB refuses one by one go to ``quarantine.lp`` in the same folder,
each group under a comment giving the reason: never replayed, never deleted, and itself valid
line protocol (``#`` starts a comment), so it can be fixed and sent by hand.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from harness.settings import from_environment

QUARANTINE = "quarantine.lp"
_NAME = re.compile(r"^(\d{9})\.(.*)\.(\d+)\.lp\.gz$")  # seq.rp.points.lp.gz ('_' for the default RP)


def default_root() -> Path:
    """The spool root where no flag is parsed (run data written by the harness commands):
    ``INFLUX_SPOOL_DIR``, else the settings table's default."""
    return Path(from_environment("INFLUX_SPOOL_DIR"))


def safe(component: str) -> str:
    return re.sub(r"[^A-Za-z0-9._:-]", "_", component) or "_"


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    seq: int
    retention_policy: str
    points: int

    def read(self) -> bytes:
        return self.path.read_bytes()


def parse(path: Path) -> SpoolFile | None:
    match = _NAME.match(path.name)
    if not match:
        return None
    rp = "" if match.group(2) == "_" else match.group(2)
    return SpoolFile(path, int(match.group(1)), rp, int(match.group(3)))


class Spool:
    """The spool of one worker. Not thread-safe: used by the flusher greenlet only."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: list[SpoolFile] = (
            sorted((f for f in map(parse, directory.glob("*.lp.gz")) if f), key=lambda f: f.seq)
            if directory.is_dir()
            else []
        )
        self._next_seq = (self.files[-1].seq + 1) if self.files else 0

    @property
    def points(self) -> int:
        return sum(f.points for f in self.files)

    def put(self, body: bytes, points: int, retention_policy: str) -> None:
        """Store an uncompressed batch body; written aside then renamed, so a crash mid-write
        never leaves half a batch to replay."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{self._next_seq:09d}.{safe(retention_policy) if retention_policy else '_'}.{points}.lp.gz"
        self._next_seq += 1
        path = self.directory / name
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(gzip.compress(body, compresslevel=1))
        os.replace(tmp, path)
        spooled = parse(path)
        assert spooled is not None  # the name was made above
        self.files.append(spooled)

    def oldest(self) -> SpoolFile | None:
        return self.files[0] if self.files else None

    @property
    def quarantine_file(self) -> Path:
        return self.directory / QUARANTINE

    def quarantine(self, groups: list[tuple[str, list[bytes]]], retention_policy: str) -> Path:
        """Append rejected lines, each group under a comment with its reason; synced before it
        returns, since the caller then deletes the batch they came from."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(self.quarantine_file, "ab") as out:
            for reason, lines in groups:
                why = " ".join(reason.split())
                out.write(f"# {stamp} rp={retention_policy or '_'}: {why}\n".encode())
                out.write(b"".join(line + b"\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
        return self.quarantine_file

    def remove_oldest(self) -> None:
        spool_file = self.files.pop(0)
        spool_file.path.unlink(missing_ok=True)
        try:
            # The last file gone: leave no empty folders behind (a quarantine file keeps its folder).
            self.directory.rmdir()
            self.directory.parent.rmdir()
        except OSError:
            pass


def worker_spool_dir(root: Path, database: str, run_id: str, worker: str) -> Path:
    return root / safe(database) / safe(run_id) / safe(worker)


def spooled_dirs(root: Path, database: str | None = None) -> list[Path]:
    """Every worker folder under the root (of one database, or all) that still holds files."""
    base = root / safe(database) if database else root
    if not base.is_dir():
        return []
    pattern = "*/*" if database else "*/*/*"
    return sorted(d for d in base.glob(pattern) if d.is_dir() and any(d.glob("*.lp.gz")))


def quarantine_files(root: Path, database: str | None = None) -> list[Path]:
    """Every quarantine file under the root (of one database, or all)."""
    base = root / safe(database) if database else root
    return sorted(base.rglob(QUARANTINE)) if base.is_dir() else []

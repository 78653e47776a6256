"""Batches of line protocol on their way to InfluxDB: ordered, bounded, retried by kind of error.

Threading rule: everything here runs on one gevent hub (Locust's); ``add`` is called from the
flusher greenlet only, never concurrently with ``send_pending``.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field

from harness.influx.client import InfluxClient, WriteError
from harness.influx.spool import Spool

log = logging.getLogger("harness.listener")


@dataclass
class Batch:
    body: bytes  # newline-joined lines: a replay sends the same bytes, so a point that did land is
    points: int  # overwritten by itself, never doubled
    retention_policy: str = ""
    attempts: int = 0


@dataclass
class WriteCounts:
    written: int = 0
    retried: int = 0  # attempts that failed and were kept for another try
    dropped: int = 0  # points given up on (rejected, or over the memory cap with no spool)
    spooled: int = 0  # points that went to the on-disk spool (some may be replayed since)
    first_error: str = ""
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class BatchWriter:
    def __init__(self, client: InfluxClient, max_pending_points: int, *, spool: Spool | None = None,
                 create_database=None):
        self.client = client
        self.spool = spool
        self.max_pending_points = max_pending_points
        self.pending: deque[Batch] = deque()
        self.pending_points = 0
        self.counts = WriteCounts()
        self.backoff_until = 0.0
        self._backoff_s = 0.0
        self._create_database = create_database

    def add(self, lines: list[str], retention_policy: str = "") -> None:
        if not lines:
            return
        self.pending.append(Batch(("\n".join(lines) + "\n").encode("utf-8"), len(lines), retention_policy))
        self.pending_points += len(lines)
        while self.pending_points > self.max_pending_points and len(self.pending) > 1:
            # Memory stays bounded whatever InfluxDB does: the oldest batches go to disk.
            self._spill(self.pending.popleft(), "memory cap reached while InfluxDB is away")

    def spill_all(self) -> int:
        """Move every pending batch to the spool (at the end of a bounded final flush)."""
        points = 0
        while self.pending:
            batch = self.pending.popleft()
            points += batch.points
            self._spill(batch, "InfluxDB did not take it before the end of the run")
        return points

    @property
    def spooled_points(self) -> int:
        return self.spool.points if self.spool else 0

    def _spill(self, batch: Batch, why: str) -> None:
        self.pending_points -= batch.points
        if self.spool is None:
            self._drop(batch, why)
            return
        try:
            self.spool.put(batch.body, batch.points, batch.retention_policy)
        except OSError as exc:
            self._drop(batch, f"{why}; the spool could not take it either: {exc}")
            return
        self.counts.spooled += batch.points

    def send_pending(self) -> bool:
        """Send batches in order until one fails with an error a retry may fix.

        Returns True when nothing is left pending."""
        if time.monotonic() < self.backoff_until:
            return not self.pending and not self.spooled_points
        # What went to disk first is older than anything in memory: replay it first.
        while self.spool and self.spool.oldest():
            spooled = self.spool.oldest()
            try:
                self.client.write(spooled.read(), retention_policy=spooled.retention_policy, gzipped=True)
            except WriteError as exc:
                self._note_error(exc)
                if exc.retryable:
                    self.counts.retried += 1
                    self._back_off(exc.retry_after)
                    return False
                self.counts.dropped += spooled.points
                log.error("dropped %d spooled points: %s", spooled.points, exc)
            else:
                self.counts.written += spooled.points
            self.spool.remove_oldest()
        while self.pending:
            batch = self.pending[0]
            try:
                batch.attempts += 1
                self.client.write(batch.body, retention_policy=batch.retention_policy)
            except WriteError as exc:
                self._note_error(exc)
                if exc.kind == "database_not_found" and self._create_database and batch.attempts == 1:
                    self._create_database()
                    continue
                if exc.retryable:
                    self.counts.retried += 1
                    self._back_off(exc.retry_after)
                    return False
                self.pending.popleft()
                self.pending_points -= batch.points
                self._drop(batch, str(exc))
                continue
            self.pending.popleft()
            self.pending_points -= batch.points
            self.counts.written += batch.points
            self._backoff_s = 0.0
        return True

    def _back_off(self, retry_after: float | None) -> None:
        # Exponential with full jitter, capped, so workers that lost InfluxDB together do not
        # come back in lockstep; Retry-After from the server wins.
        self._backoff_s = min(30.0, max(0.5, self._backoff_s * 2))
        delay = retry_after if retry_after is not None else random.uniform(0.5 * self._backoff_s, self._backoff_s)
        self.backoff_until = time.monotonic() + delay

    def _note_error(self, exc: WriteError) -> None:
        self.counts.errors_by_kind[exc.kind] = self.counts.errors_by_kind.get(exc.kind, 0) + 1
        if not self.counts.first_error:
            self.counts.first_error = str(exc)
            log.warning("InfluxDB write failed: %s", exc)

    def _drop(self, batch: Batch, why: str) -> None:
        self.counts.dropped += batch.points
        log.error("dropped %d points: %s", batch.points, why)

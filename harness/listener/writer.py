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
    dropped: int = 0  # points given up on (rejected, or over the memory cap)
    first_error: str = ""
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class BatchWriter:
    def __init__(self, client: InfluxClient, max_pending_points: int, *, sleep=time.sleep,
                 create_database=None):
        self.client = client
        self.max_pending_points = max_pending_points
        self.pending: deque[Batch] = deque()
        self.pending_points = 0
        self.counts = WriteCounts()
        self.backoff_until = 0.0
        self._backoff_s = 0.0
        self._sleep = sleep
        self._create_database = create_database

    def add(self, lines: list[str], retention_policy: str = "") -> None:
        if not lines:
            return
        self.pending.append(Batch(("\n".join(lines) + "\n").encode("utf-8"), len(lines), retention_policy))
        self.pending_points += len(lines)
        while self.pending_points > self.max_pending_points and len(self.pending) > 1:
            dropped = self.pending.popleft()
            self.pending_points -= dropped.points
            self._drop(dropped, "memory cap reached while InfluxDB is away")

    def send_pending(self) -> bool:
        """Send batches in order until one fails with an error a retry may fix.

        Returns True when nothing is left pending."""
        if time.monotonic() < self.backoff_until:
            return not self.pending
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

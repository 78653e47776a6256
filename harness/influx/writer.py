"""The one write path to InfluxDB: batching, the memory cap, retries with backoff, the on-disk
spool and its replay, quarantine of lines InfluxDB refuses, and the bounded final drain — for
request points and run data alike.

A point leaves memory or the spool only when InfluxDB confirmed it (HTTP 204) or when it is in
the quarantine file. Who is to blame for a failed write decides the rest (harness/influx/client.py):

- the network or the server (connection refused, 5xx, 429): keep everything, back off, retry;
- the settings or the server's state (credentials, permissions, a missing database, a URL that
  is not InfluxDB, any other 4xx): keep everything, back off, and say so (``refused``);
- lines of the batch (InfluxDB names them, or answers "partial write"): find them by splitting
  the batch, write the others, and move only those to the spool folder's quarantine file.

Threading rule: ``add`` may be called from any greenlet at any moment; it appends to a list and
never yields. Everything that changes the queue — sealing what was added into batches, the
memory cap, sending, spooling, replaying, quarantining — happens inside ``flush``, ``drain`` and
``spill_all``, one call at a time: a call made while another one waits on the network returns at
once and changes nothing. So no interleaving of hooks, the flusher and the cap can lose a batch
or count one twice (tests/test_writer_interleaving.py forces them at every network yield).
"""

from __future__ import annotations

import gzip
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, WriteError
from harness.influx.datamodel import QUARANTINE
from harness.influx.lineprotocol import make_line
from harness.influx.spool import Spool

log = logging.getLogger("harness.influx")
# Locust's logging shows these lines; a harness command reports in its own one line instead.
log.addHandler(logging.NullHandler())

REQUEST_PREFIX = b"request,"  # how a request point's line starts (lineprotocol.series_prefix)


@dataclass
class Batch:
    body: bytearray  # newline-terminated lines: a replay sends the same points, so a point that did
    points: int  # land before a timeout is overwritten by itself, never doubled
    retention_policy: str = ""
    record: bool = False  # the writer's own ``quarantine`` point, not counted as written


@dataclass
class WriteCounts:
    written: int = 0  # points InfluxDB confirmed
    retried: int = 0  # attempts that failed and were kept for another try
    dropped: int = 0  # points given up on: only when neither memory nor the spool could keep them
    spooled: int = 0  # points that went to the on-disk spool (some may be replayed since)
    quarantined: int = 0  # points InfluxDB refused one by one, kept in the quarantine file
    first_error: str = ""
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class BatchWriter:
    def __init__(
        self,
        client: InfluxClient,
        max_pending_points: int,
        *,
        batch_size: int = 5000,
        spool: Spool | None = None,
        create_database: Callable[[], object] | None = None,
        record_tags: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.spool = spool
        self.max_pending_points = max_pending_points
        self.batch_size = max(1, batch_size)
        self.pending: deque[Batch] = deque()
        self.pending_points = 0
        self.counts = WriteCounts()
        self.backoff_until = 0.0
        self.refused: WriteError | None = None  # the last refusal, until a write succeeds again
        self.record_tags = record_tags or {}  # tags of this writer's own ``quarantine`` points
        self._incoming: list[tuple[str, list[str]]] = []
        self._backoff_s = 0.0
        self._busy = False
        self._create_database = create_database
        self._sleep = sleep  # time.sleep yields to other greenlets once gevent patched it
        self._clock = clock  # backoff and drain deadlines (tests pass their own)

    # -- handing lines over (any greenlet) ------------------------------------------------
    def add(self, lines: list[str], retention_policy: str = "") -> None:
        """Queue lines for the next flush. Never blocks, never yields, never writes."""
        if lines:
            self._incoming.append((retention_policy, lines))

    def begin(self, spool: Spool | None, record_tags: dict[str, str]) -> None:
        """A new run: its own spool folder, counts and tags (the queue carries on)."""
        self.spool, self.record_tags, self.counts = spool, record_tags, WriteCounts()

    @property
    def spooled_points(self) -> int:
        return self.spool.points if self.spool else 0

    @property
    def idle(self) -> bool:
        """Nothing waits: not in memory, not in the spool."""
        return not self._incoming and not self.pending and not self.spooled_points

    # -- the one place the queue changes --------------------------------------------------
    def flush(self) -> bool:
        """Seal what was added into batches, hold the memory cap, then send: the spool first
        (it is older), then memory, in order, until a write fails for a reason the lines are
        not to blame for. Returns True when nothing is left waiting."""
        if self._busy:
            return False  # another flush waits on the network; it will send what this one would
        self._busy = True
        try:
            self._seal()
            if self._clock() < self.backoff_until:
                return self.idle
            for _ in range(3):  # lines added, and quarantine records made, while writes were away
                if not self._replay_spool() or not self._send_pending():
                    return False
                if not self._incoming:
                    break
                self._seal()
            return self.idle
        finally:
            self._busy = False

    def drain(self, timeout_s: float) -> int:
        """The final flush: retry until ``timeout_s`` has passed or InfluxDB refused, then move
        what is left to the spool. Returns the points moved there."""
        deadline = self._clock() + timeout_s
        while not self.flush():
            now = self._clock()
            if self.refused is not None or now >= deadline or self._busy:
                break
            # The run is over and only this waits: retry sooner than a long backoff would.
            self.backoff_until = min(self.backoff_until, now + 1.0)
            self._sleep(max(0.05, min(self.backoff_until, deadline) - now))
        return self.spill_all()

    def spill_all(self) -> int:
        """Move everything in memory to the spool; returns the points moved."""
        if self._busy:
            return 0
        self._seal()
        points = 0
        while self.pending:
            batch = self.pending.popleft()
            points += batch.points
            self._spill(batch, "InfluxDB did not take it before the end of the run")
        return points

    def _seal(self) -> None:
        """Incoming lines into batches of up to ``batch_size``, filling the newest batch of the same
        retention policy first: spool files then hold batches, however slowly lines trickle in."""
        incoming, self._incoming = self._incoming, []
        for rp, lines in incoming:
            tail = next((b for b in reversed(self.pending) if b.retention_policy == rp), None)
            start = 0
            while start < len(lines):
                if tail is None or tail.record or tail.points >= self.batch_size:
                    tail = Batch(bytearray(), 0, rp)
                    self.pending.append(tail)
                room = self.batch_size - tail.points
                part = lines if start == 0 and len(lines) <= room else lines[start : start + room]
                tail.body += ("\n".join(part) + "\n").encode("utf-8")
                tail.points += len(part)
                self.pending_points += len(part)
                start += len(part)
        while self.pending_points > self.max_pending_points and len(self.pending) > 1:
            # Memory stays bounded whatever InfluxDB does: the oldest batches go to disk.
            self._spill(self.pending.popleft(), "memory cap reached while InfluxDB is away")

    def _spill(self, batch: Batch, why: str) -> None:
        self.pending_points -= batch.points
        if self.spool is None:
            self._drop(batch.points, why)
            return
        try:
            self.spool.put(bytes(batch.body), batch.points, batch.retention_policy)
        except OSError as exc:
            self._drop(batch.points, f"{why}; the spool could not take it either: {exc}")
            return
        self.counts.spooled += batch.points

    def _replay_spool(self) -> bool:
        while self.spool and (spooled := self.spool.oldest()) is not None:
            try:
                body = spooled.read()
            except FileNotFoundError:  # another process (harness flush) replayed it meanwhile
                self.spool.remove_oldest()
                continue
            if not self._deliver(body, spooled.points, spooled.retention_policy, gzipped=True):
                return False
            self.spool.remove_oldest()
        return True

    def _send_pending(self) -> bool:
        while self.pending:
            batch = self.pending[0]
            if not self._deliver(
                bytes(batch.body), batch.points, batch.retention_policy, counted=not batch.record
            ):
                return False
            self.pending.popleft()  # nobody else changes the queue while the write was away
            self.pending_points -= batch.points
        return True

    # -- one batch ------------------------------------------------------------------------
    def _deliver(
        self, body: bytes, points: int, rp: str, gzipped: bool = False, counted: bool = True
    ) -> bool:
        """True when every line of the batch is stored or quarantined; False when it must be
        kept (the error is noted and the backoff set)."""
        created = False
        while True:
            try:
                self.client.write(body, retention_policy=rp, gzipped=gzipped)
            except WriteError as exc:
                self._note_error(exc)
                if exc.kind == "database_not_found" and self._create_database and not created:
                    created = True
                    try:
                        self._create_database()
                    except HarnessError as create_error:
                        return self._keep(
                            WriteError(
                                "database_not_found", f"{exc}; creating it failed: {create_error}", exc.status
                            )
                        )
                    continue
                if not exc.lines_rejected:
                    return self._keep(exc)
                lines = (gzip.decompress(body) if gzipped else body).split(b"\n")[:-1]
                try:
                    rejected = self._isolate(lines, rp, exc)
                except WriteError as part_error:
                    self._note_error(part_error)
                    return self._keep(part_error)
                return self._set_aside(rejected, points if counted else 0, rp)
            self.counts.written += points if counted else 0
            self._recovered()
            return True

    def _isolate(self, lines: list[bytes], rp: str, error: WriteError) -> list[tuple[str, list[bytes]]]:
        """The lines InfluxDB refuses, with its reasons: those its answer names, else found by
        writing halves (a half it takes is stored; writing a good line twice stores it once).
        Raises WriteError when a part fails for another reason: then nothing is set aside."""
        rejected: list[tuple[str, list[bytes]]] = []
        todo = [(lines, error)]
        while todo:
            part, error = todo.pop()
            named = error.named_lines(part)
            if named:
                rejected.append((str(error), [line for line in part if line in named]))
                rest = [line for line in part if line not in named]
                parts = [rest] if rest else []
            elif len(part) == 1 or error.dropped == len(part):
                rejected.append((str(error), part))
                parts = []
            else:
                middle = len(part) // 2
                parts = [part[:middle], part[middle:]]
            for sub in parts:
                try:
                    self.client.write(b"\n".join(sub) + b"\n", retention_policy=rp)
                except WriteError as exc:
                    if not exc.lines_rejected:
                        raise
                    todo.append((sub, exc))
        return rejected

    def _set_aside(self, rejected: list[tuple[str, list[bytes]]], points: int, rp: str) -> bool:
        """Quarantine the rejected lines; ``points`` of the batch count as written, less those."""
        count = sum(len(lines) for _, lines in rejected)
        if not count:  # every part was taken once split (a batch too large as a whole)
            self.counts.written += points
            self._recovered()
            return True
        requests = sum(line.startswith(REQUEST_PREFIX) for _, lines in rejected for line in lines)
        if self.spool is None:
            self._drop(count, f"InfluxDB refused them ({rejected[0][0]}) and there is no spool to keep them")
        else:
            try:
                where = self.spool.quarantine(rejected, rp)
            except OSError as exc:
                return self._keep(WriteError("refused", f"cannot write the quarantine file: {exc}"))
            self.counts.quarantined += count
            log.error("InfluxDB refused %d lines (%s); they are kept in %s", count, rejected[0][0], where)
            if self.record_tags:
                # So the verdict counts them, wherever it runs: a point of its own, sent like any other.
                record = make_line(
                    QUARANTINE.name,
                    self.record_tags,
                    {
                        "points": count,
                        "request_points": requests,
                        "reason": rejected[0][0][:300],
                        "file": str(where),
                    },
                    time.time_ns(),
                )
                self.pending.append(Batch(bytearray(record.encode("utf-8") + b"\n"), 1, "", record=True))
                self.pending_points += 1
        self.counts.written += max(0, points - count)
        self._recovered()
        return True

    # -- errors and backoff ---------------------------------------------------------------
    def _keep(self, exc: WriteError) -> bool:
        self.counts.retried += 1
        self.refused = None if exc.retryable else exc
        self._back_off(exc.retry_after)
        return False

    def _recovered(self) -> None:
        self.refused = None
        self._backoff_s = 0.0

    def _back_off(self, retry_after: float | None) -> None:
        # Exponential with full jitter, capped, so workers that lost InfluxDB together do not
        # come back in lockstep; Retry-After from the server wins.
        self._backoff_s = min(30.0, max(0.5, self._backoff_s * 2))
        delay = (
            retry_after if retry_after is not None else random.uniform(0.5 * self._backoff_s, self._backoff_s)
        )
        self.backoff_until = self._clock() + delay

    def _note_error(self, exc: WriteError) -> None:
        seen = self.counts.errors_by_kind.get(exc.kind, 0)
        self.counts.errors_by_kind[exc.kind] = seen + 1
        self.counts.first_error = self.counts.first_error or str(exc)
        if not seen:  # once per kind: an outage must not flood the log
            log.warning("InfluxDB write failed: %s", exc)

    def _drop(self, points: int, why: str) -> None:
        self.counts.dropped += points
        log.error("dropped %d points: %s", points, why)

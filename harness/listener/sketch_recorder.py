"""Sketch mode's hot path and its per-second accumulator (``--influx-points sketches``).

The request hook only appends the request's start, response time and lateness to three lists
of its series (method, name, status, result, API); once a second the flusher turns each list into
numpy arrays and folds them, per second of start, into that second's count, sum, min, max, error
texts and quantile sketches (harness/influx/sketch.py). Per request that is three list appends in
place and ~0.1 µs of vectorised work later, against ~1 µs to format a line of line protocol
(bench/README.md, "Sketch mode").

Each (series, second) is written as one ``request_sketch`` point stamped at the second's start.
A second that gains requests later (a long request started in it) is written again with its
whole content: the same series and timestamp overwrite the earlier point, so InfluxDB holds one
point per endpoint, status, worker and second, always complete. Seconds more than ``HOLD_S``
before the newest are forgotten; a request that started in a forgotten second (one longer than
``HOLD_S``) is counted in the oldest second still held, never lost.

What changed since the last take is also handed over as ``deltas`` (per endpoint and second,
every status merged): the fleet's merged series (harness/listener/fleet.py) adds them up.
"""

from __future__ import annotations

import math
import time

import numpy as np

from harness.apis import api_for
from harness.influx.lineprotocol import series_prefix
from harness.influx.sketch import MEASUREMENT, SECOND_NS, Second

MAX_ERROR_CHARS = 500
MAX_ERROR_TEXTS = 20  # distinct error texts kept per point; the rest are counted as "(other)"
HOLD_S = 120
NAN = math.nan


class SketchRecorder:
    """Same call as ``RequestRecorder.record``; lines come out of ``take`` once a second."""

    def __init__(self, run_id: str, test_env: str, worker: str, origin=lambda: 0):
        self.fixed_tags = {"run_id": run_id, "test_env": test_env, "worker": worker}
        self.seen = 0
        self.lines: list[str] = []  # other lines of this process (users, arrivals), as RequestRecorder's
        # Where seconds start (ns, asked at every take): 0, whole UTC seconds; in the arrival model,
        # once known, its epoch, so the verdict's windows (whole seconds from the first arrival) are
        # made of whole buckets. Buckets are keyed by their start in ns, so a change of grid (the
        # pool's sign-in came before the epoch) never mixes two grids in one point.
        self.origin = origin
        self._buffers: dict[tuple, tuple[list, list, list]] = {}
        self._errors: dict[tuple, list] = {}
        self._held: dict[tuple[tuple, int], Second] = {}
        self._prefixes: dict[tuple, str] = {}
        self._floor = -(2**62)  # buckets starting before this (ns) are forgotten
        self.deltas: dict[
            tuple[int, str, str, str], Second
        ] = {}  # (bucket ns, api, method, name) → new since taken
        self.late_requests = 0  # started in a forgotten second; counted in the oldest held one

    def record(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: BaseException | None,
        start_time: float | None,
        response=None,
        context=None,
    ) -> int:
        self.seen += 1
        if context:
            api, lateness_ms = context.get("api"), context.get("lateness_ms")
        else:
            api = lateness_ms = None
        key = (request_type, name, getattr(response, "status_code", 0) or 0, exception is None, api)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = ([], [], [])
        if start_time is None:
            start_time = time.time() - (response_time or 0) / 1000.0
        buffer[0].append(start_time)
        buffer[1].append(response_time or 0)
        buffer[2].append(NAN if lateness_ms is None else (response_time or 0) + lateness_ms)
        if exception is not None:
            self._errors.setdefault(key, []).append((start_time, str(exception)[:MAX_ERROR_CHARS]))
        return 0  # the flusher's clock, not the request count, decides when lines go

    # -- once a second, on the flusher -----------------------------------------------------------
    def take(self) -> list[str]:
        """Fold the requests since the last call into their seconds; the lines of every second that
        changed (whole), and this process's other lines."""
        buffers, self._buffers = self._buffers, {}
        errors, self._errors = self._errors, {}
        origin = int(self.origin()) % SECOND_NS // 1000 * 1000  # whole µs, as the verdict's windows
        changed: set[tuple[tuple, int]] = set()
        for key, (starts, times, scheduled) in buffers.items():
            # Whole microseconds, exactly as the request points' timestamps are made
            # (harness/listener/recorder.py), so both sources put a request in the same second.
            starts_ns = (np.array(starts, dtype=np.float64) * 1_000_000).astype(np.int64) * 1000
            buckets = (starts_ns - origin) // SECOND_NS * SECOND_NS + origin
            forgotten = buckets < self._floor
            if forgotten.any():
                self.late_requests += int(forgotten.sum())
                buckets[forgotten] = self._oldest()
            rt = np.array(times, dtype=np.float64)
            sched = np.array(scheduled, dtype=np.float64)
            order = np.argsort(buckets, kind="stable")
            buckets, rt, sched, starts_ns = buckets[order], rt[order], sched[order], starts_ns[order]
            for part in np.split(np.arange(len(buckets)), np.flatnonzero(np.diff(buckets)) + 1):
                new = Second.of(rt[part])
                if not key[3]:
                    new.failures = new.count
                new.first, new.last = int(starts_ns[part].min()), int(starts_ns[part].max())
                s = sched[part]
                s = s[~np.isnan(s)]
                if len(s):
                    new.scheduled = Second.of(s)
                self._fold(key, int(buckets[part[0]]), new, changed)
            for start, text in errors.get(key, ()):
                bucket = (int(start * 1_000_000) * 1000 - origin) // SECOND_NS * SECOND_NS + origin
                held = self._held.get((key, bucket)) or self._held[(key, self._oldest())]
                label = text if len(held.errors) < MAX_ERROR_TEXTS or text in held.errors else "(other)"
                held.errors[label] = held.errors.get(label, 0) + 1
        lines = [self._line(key, bucket) for key, bucket in sorted(changed, key=lambda kb: kb[1])]
        self._forget()
        lines.extend(self.lines)
        self.lines = []
        return lines

    def _oldest(self) -> int:
        return min((b for _, b in self._held if b >= self._floor), default=self._floor)

    def _fold(self, key: tuple, bucket: int, new: Second, changed: set) -> None:
        held = self._held.get((key, bucket))
        if held is None:
            held = self._held[(key, bucket)] = Second()
        held.add(new)
        changed.add((key, bucket))
        method, name, _status, _ok, api = key
        endpoint = (bucket, api or api_for(name), method, name)
        delta = self.deltas.get(endpoint)
        if delta is None:
            delta = self.deltas[endpoint] = Second()
        delta.add(new)

    def take_deltas(self) -> dict[tuple[int, str, str, str], Second]:
        deltas, self.deltas = self.deltas, {}
        return deltas

    def _line(self, key: tuple, bucket: int) -> str:
        prefix = self._prefixes.get(key)
        if prefix is None:
            method, name, status, ok, api = key
            tags = dict(
                self.fixed_tags,
                api=api or api_for(name),
                name=name,
                method=method,
                result="ok" if ok else "fail",
                status=status,
            )
            prefix = self._prefixes[key] = series_prefix(MEASUREMENT, tags)
        return f"{prefix}{self._held[(key, bucket)].fields()} {bucket}"

    def _forget(self) -> None:
        """Buckets more than HOLD_S older than the newest are no longer held; later requests that
        started in them go to the oldest bucket still held (``late_requests``)."""
        if not self._held:
            return
        newest = max(bucket for _, bucket in self._held)
        if newest - HOLD_S * SECOND_NS > self._floor:
            self._floor = newest - HOLD_S * SECOND_NS
            for key_bucket in [kb for kb in self._held if kb[1] < self._floor]:
                del self._held[key_bucket]

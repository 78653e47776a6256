"""The per-request hot path: one line of line protocol appended to a list, nothing else.

Timestamps: the request's start in whole microseconds, times 1000, plus the process's request
sequence number modulo 1000 in the nanosecond digits. Points with the same series and timestamp
overwrite each other in InfluxDB; every series carries this process's ``worker`` tag, so two
points collide only if one process started two requests in the same microsecond *and* completed
a multiple of 1000 requests between them — which a single-threaded process cannot do.

In the arrival model a request's context carries its iteration's lateness (actual start −
scheduled start, harness/scenarios/pool.py); the point then also stores
``scheduled_response_time`` = response_time + lateness: the latency a user who arrived on
schedule would have seen, free of coordinated omission.

Everything per request happens in ``record`` with no further calls on the common path: at
~11,000 requests/s per core every call and attribute lookup shows in Locust's throughput
(bench/README.md, "Listener overhead").
"""

from __future__ import annotations

import time

from harness.apis import api_for
from harness.influx.datamodel import REQUEST
from harness.influx.lineprotocol import escape_string_field, series_prefix

MAX_ERROR_CHARS = 500  # error texts can embed whole response bodies; keep points small


class RequestRecorder:
    def __init__(self, run_id: str, test_env: str, worker: str):
        self.fixed_tags = {"run_id": run_id, "test_env": test_env, "worker": worker}
        self.lines: list[str] = []
        self.seen = 0
        # (method, name, status, ok, api from the request's context) → escaped series prefix
        self._prefixes: dict[tuple, str] = {}

    def _new_prefix(self, key: tuple) -> str:
        method, name, status, ok, api = key
        tags = dict(
            self.fixed_tags,
            api=api or api_for(name),
            name=name,
            method=method,
            result="ok" if ok else "fail",
            status=status,
        )
        prefix = self._prefixes[key] = series_prefix(REQUEST.name, tags)
        return prefix

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
        """Append one point; returns how many lines wait to be flushed."""
        seq = self.seen
        self.seen = seq + 1
        if context:
            api, lateness_ms = context.get("api"), context.get("lateness_ms")
        else:
            api = lateness_ms = None
        key = (request_type, name, getattr(response, "status_code", 0) or 0, exception is None, api)
        prefix = self._prefixes.get(key) or self._new_prefix(key)
        if start_time is None:  # custom clients may not pass it: derive it from the end
            start_time = time.time() - (response_time or 0) / 1000.0
        # repr() of an int or float is a valid line-protocol float; response_length must be an
        # integer, or the 'i' suffix would make the whole batch unparsable.
        fields = f"response_length={int(response_length or 0)}i,response_time={response_time or 0!r}"
        if lateness_ms is not None:  # arrival model: also the latency from the scheduled start
            fields += f",scheduled_response_time={(response_time or 0) + lateness_ms!r}"
        ts = int(start_time * 1_000_000) * 1000 + seq % 1000
        lines = self.lines
        if exception is None:
            lines.append(f"{prefix}{fields} {ts}")
        else:
            error = escape_string_field(str(exception)[:MAX_ERROR_CHARS])
            lines.append(f'{prefix}error="{error}",{fields} {ts}')
        return len(lines)

    def take(self) -> list[str]:
        """Hand over the collected lines and start a fresh list (k6's buffer swap)."""
        lines, self.lines = self.lines, []
        return lines

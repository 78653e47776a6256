"""The per-request hot path: one line of line protocol appended to a list, nothing else.

Timestamps: the request's start in whole microseconds, times 1000, plus the process's request
sequence number modulo 1000 in the nanosecond digits. Points with the same series and timestamp
overwrite each other in InfluxDB; every series carries this process's ``worker`` tag, so two
points collide only if one process started two requests in the same microsecond *and* completed
a multiple of 1000 requests between them — which a single-threaded process cannot do.
"""

from __future__ import annotations

from harness.apis import api_for
from harness.influx.lineprotocol import escape_string_field, format_float, series_prefix

MAX_ERROR_CHARS = 500  # error texts can embed whole response bodies; keep points small


class RequestRecorder:
    def __init__(self, run_id: str, test_env: str, worker: str):
        self.fixed_tags = {"run_id": run_id, "test_env": test_env, "worker": worker}
        self.lines: list[str] = []
        self.seen = 0
        self._prefixes: dict[tuple, str] = {}

    def _prefix(self, method: str, name: str, result: str, status: int, api: str | None) -> str:
        key = (method, name, result, status, api)
        prefix = self._prefixes.get(key)
        if prefix is None:
            tags = dict(self.fixed_tags, api=api or api_for(name), name=name, method=method,
                        result=result, status=status)
            prefix = self._prefixes[key] = series_prefix("request", tags)
        return prefix

    def record(self, request_type: str, name: str, response_time: float, response_length: int,
               exception: BaseException | None, start_time: float, status: int, api: str | None = None) -> None:
        seq = self.seen
        self.seen = seq + 1
        ts = int(start_time * 1_000_000) * 1000 + seq % 1000
        fields = f"response_length={int(response_length or 0)}i,response_time={format_float(response_time or 0.0)}"
        if exception is None:
            self.lines.append(f"{self._prefix(request_type, name, 'ok', status, api)}{fields} {ts}")
        else:
            error = escape_string_field(str(exception)[:MAX_ERROR_CHARS])
            self.lines.append(f'{self._prefix(request_type, name, "fail", status, api)}error="{error}",{fields} {ts}')

    def take(self) -> list[str]:
        """Hand over the collected lines and start a fresh list (k6's buffer swap)."""
        lines, self.lines = self.lines, []
        return lines

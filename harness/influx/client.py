"""A small InfluxDB HTTP client: v1 ``/write`` and InfluxQL ``/query``, the one protocol that
InfluxDB 1.x, 2.x (v1 compatibility API) and 3.x all accept.

Write errors are sorted by what a retry can fix (Telegraf's rule): network errors, 5xx and 429
are retryable; a missing database is fixable by creating it; 4xx and parse errors are not.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlparse

import requests

from harness.errors import HarnessError


@dataclass(frozen=True)
class InfluxSettings:
    url: str = "http://127.0.0.1:8086"
    database: str = "loadtest"
    token: str = ""  # InfluxDB 2.x / 3.x: sent as "Authorization: Token …"
    username: str = ""  # InfluxDB 1.x
    password: str = ""
    timeout_s: float = 10.0

    def validate(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise HarnessError(f"--influx-url: {self.url!r} is not an http(s) URL")
        if not self.database:
            raise HarnessError("--influx-db: the database name is empty")


class WriteError(Exception):
    """A failed write. ``kind`` says what a retry can do about it."""

    RETRYABLE = {"network", "server", "throttled"}

    def __init__(self, kind: str, message: str, status: int = 0, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind  # network | server | throttled | auth | database_not_found | rejected
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE


class QueryError(HarnessError):
    """An InfluxQL query failed; the message is one line naming why."""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def classify_write_failure(status: int, body: str, headers_retry_after: float | None = None) -> WriteError:
    text = " ".join(body.split())[:300]
    if status in (401, 403):
        return WriteError("auth", f"InfluxDB refused the credentials (HTTP {status}): {text}", status)
    if status == 404 or "database not found" in text:
        return WriteError("database_not_found", f"InfluxDB: database not found: {text}", status)
    if status == 429:
        return WriteError("throttled", f"InfluxDB is throttling writes (HTTP 429): {text}", status,
                          headers_retry_after)
    if status >= 500:
        return WriteError("server", f"InfluxDB server error (HTTP {status}): {text}", status,
                          headers_retry_after)
    return WriteError("rejected", f"InfluxDB rejected the batch (HTTP {status}): {text}", status)


class InfluxClient:
    def __init__(self, settings: InfluxSettings, session: requests.Session | None = None):
        settings.validate()
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.session = session or requests.Session()
        # Over loopback, gzip only costs the load generator CPU (bench/README.md); across a
        # network it saves most of the bytes.
        self.compress_writes = urlparse(settings.url).hostname not in ("127.0.0.1", "localhost", "::1")
        if settings.token:
            self.session.headers["Authorization"] = f"Token {settings.token}"
        elif settings.username:
            self.session.auth = (settings.username, settings.password)

    # -- health ---------------------------------------------------------------------------
    def ping(self) -> str:
        """The server's version; HarnessError (one line) when it cannot be reached."""
        try:
            response = self.session.get(f"{self.base}/ping", timeout=self.settings.timeout_s)
        except requests.RequestException as exc:
            raise HarnessError(f"InfluxDB at {self.settings.url} is unreachable ({_reason(exc)})") from None
        if response.status_code not in (200, 204):
            raise HarnessError(f"InfluxDB at {self.settings.url} answered /ping with HTTP {response.status_code}")
        return response.headers.get("X-Influxdb-Version", "unknown")

    # -- write ----------------------------------------------------------------------------
    def write(self, body: bytes, *, retention_policy: str = "", compress: bool | None = None,
              gzipped: bool = False) -> None:
        """Write newline-separated line protocol (ns precision); ``gzipped``: the body is gzip
        already (a spooled batch). Raises WriteError."""
        params = {"db": self.settings.database, "precision": "ns"}
        if retention_policy:
            params["rp"] = retention_policy
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if compress is None:
            compress = self.compress_writes
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        elif compress:
            # Level 1: most of the size gain at a fraction of the CPU the load generator needs.
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self.session.post(f"{self.base}/write", params=params, data=body,
                                         headers=headers, timeout=self.settings.timeout_s)
        except requests.RequestException as exc:
            raise WriteError("network", f"InfluxDB unreachable: {_reason(exc)}") from None
        if response.status_code == 204:
            return
        raise classify_write_failure(response.status_code, response.text, _retry_after(response))

    # -- query ----------------------------------------------------------------------------
    def query(self, influxql: str, *, epoch: str = "ns", database: str | None = None,
              method: str = "GET") -> list[dict[str, Any]]:
        """Run InfluxQL; return the list of ``series`` of every statement, flattened.

        Each series is ``{"name", "tags", "columns", "values"}`` as InfluxDB sends it."""
        return [s for result in self.query_results(influxql, epoch=epoch, database=database, method=method)
                for s in result.get("series", [])]

    def query_results(self, influxql: str, *, epoch: str = "ns", database: str | None = None,
                      method: str = "GET") -> list[dict[str, Any]]:
        params = {"q": influxql, "db": database if database is not None else self.settings.database}
        if epoch:
            params["epoch"] = epoch
        try:
            if method == "POST":
                response = self.session.post(f"{self.base}/query", data=params, timeout=self.settings.timeout_s * 6)
            else:
                response = self.session.get(f"{self.base}/query", params=params, timeout=self.settings.timeout_s * 6)
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB at {self.settings.url} is unreachable ({_reason(exc)})") from None
        if response.status_code in (401, 403):
            raise QueryError(f"InfluxDB at {self.settings.url} refused the credentials (HTTP {response.status_code}); "
                             "check --influx-token or --influx-user/--influx-password")
        try:
            payload = response.json()
        except ValueError:
            raise QueryError(f"InfluxDB answered HTTP {response.status_code} with no JSON to {influxql[:80]!r}") from None
        if "error" in payload:
            raise QueryError(f"InfluxDB: {payload['error']}")
        results = payload.get("results", [])
        for result in results:
            if "error" in result:
                raise QueryError(f"InfluxDB: {result['error']} (in {influxql[:120]!r})")
        return results

    def query_chunked(self, influxql: str, *, chunk_size: int = 20_000) -> tuple[str, Iterator[bytes]]:
        """One SELECT answered in chunks (``chunked=true``), asking for MessagePack, which InfluxDB
        1.x encodes and numpy reads several times faster than JSON (bench/README.md). Returns the
        answer's content type (servers without MessagePack, 2.x/3.x compatibility APIs, answer
        newline-delimited JSON) and its body in blocks; see ``json_series`` and
        ``harness.influx.msgpack_series``."""
        params = {"q": influxql, "db": self.settings.database, "epoch": "ns", "chunked": "true",
                  "chunk_size": str(chunk_size)}
        try:
            response = self.session.get(f"{self.base}/query", params=params, stream=True,
                                        headers={"Accept": "application/x-msgpack"},
                                        timeout=self.settings.timeout_s * 6)
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB at {self.settings.url} is unreachable ({_reason(exc)})") from None
        if response.status_code in (401, 403):
            raise QueryError(f"InfluxDB at {self.settings.url} refused the credentials (HTTP {response.status_code}); "
                             "check --influx-token or --influx-user/--influx-password")
        return response.headers.get("Content-Type", ""), self._blocks(response)

    def _blocks(self, response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(1 << 20)
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB at {self.settings.url} broke off an answer ({_reason(exc)})") from None

    def create_database(self) -> None:
        """CREATE DATABASE is idempotent on 1.x; on 2.x/3.x the bucket must exist already."""
        self.query_results(f"CREATE DATABASE {quote_ident(self.settings.database)}", method="POST", epoch="")

    def create_retention_policy(self, name: str, duration: str, default: bool = False) -> None:
        statement = (f"CREATE RETENTION POLICY {quote_ident(name)} ON {quote_ident(self.settings.database)} "
                     f"DURATION {duration} REPLICATION 1{' DEFAULT' if default else ''}")
        self.query_results(statement, method="POST", epoch="")


def json_series(blocks: Iterator[bytes], influxql: str) -> Iterator[dict[str, Any]]:
    """The series of a chunked JSON answer (one document per line), in order."""
    pending = b""
    for block in blocks:
        pending += block
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield from _series_of(_document(line, influxql), influxql)
    if pending.strip():
        yield from _series_of(_document(pending, influxql), influxql)


def _document(line: bytes, influxql: str) -> dict[str, Any]:
    try:
        return json.loads(line)
    except ValueError:
        raise QueryError(f"InfluxDB answered with no JSON to {influxql[:80]!r}") from None


def _series_of(document: dict[str, Any], influxql: str) -> list[dict[str, Any]]:
    if "error" in document:
        raise QueryError(f"InfluxDB: {document['error']}")
    series = []
    for result in document.get("results", []):
        if "error" in result:
            raise QueryError(f"InfluxDB: {result['error']} (in {influxql[:120]!r})")
        series += result.get("series", []) or []
    return series


def quote_ident(name: str) -> str:
    """InfluxQL identifier quoting; always used, since names like ``name`` are keywords."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _reason(exc: Exception) -> str:
    """A short, one-line cause from a requests exception (its repr nests several layers)."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host",
                   "Temporary failure in name resolution", "Connection reset"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__

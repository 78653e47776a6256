"""A small InfluxDB HTTP client: v1 ``/write`` and InfluxQL ``/query``, the one protocol that
InfluxDB 1.x, 2.x (v1 compatibility API) and 3.x all accept.

Write errors are sorted by who is to blame, since that decides what may happen to the points:
network errors, 5xx and 429 are retryable; lines InfluxDB names as bad (a parse error, a field
type conflict: "partial write") are the batch's fault and can be set aside one by one; every
other refusal (credentials, permissions, a missing database, a URL that is not InfluxDB, any
other 4xx) is the server's or the settings' fault, and every point must be kept until it is
fixed.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
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
    """A failed write. ``kind`` says who is to blame, and so what may happen to the points."""

    RETRYABLE = {"network", "server", "throttled"}

    def __init__(
        self, kind: str, message: str, status: int = 0, retry_after: float | None = None, body: str = ""
    ):
        super().__init__(message)
        # network | server | throttled: try again later; rejected: InfluxDB refuses some lines of
        # the batch itself; auth | database_not_found | refused: the server or the settings are wrong
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.body = body  # the server's whole answer: it may name every line it could not parse

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE

    @property
    def lines_rejected(self) -> bool:
        """The batch holds lines InfluxDB will never take; the others may be fine."""
        return self.kind == "rejected"

    @property
    def dropped(self) -> int | None:
        """How many points of the batch InfluxDB 1.x/2.x said it dropped (``dropped=N``)."""
        match = re.search(r"dropped=(\d+)", self.body)
        return int(match.group(1)) if match else None

    def named_lines(self, lines: list[bytes]) -> set[bytes]:
        """The lines of ``lines`` the answer quotes as unparsable (1.x/2.x: ``unable to parse
        'LINE': why``; 3.x: ``original_line``)."""
        messages = _messages(self.body)
        text = "\n".join(m for m in messages if isinstance(m, str))
        originals = {
            m["original_line"]
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("original_line"), str)
        }
        named = set()
        for line in lines:
            decoded = line.decode("utf-8", "replace")
            if decoded in originals or f"unable to parse '{decoded}'" in text:
                named.add(line)
        return named


def _messages(body: str) -> list[Any]:
    """The error texts of an InfluxDB answer (1.x ``error``, 2.x ``message``, 3.x ``data``)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return [body]
    if not isinstance(payload, dict):
        return [body]
    return [payload.get("error"), payload.get("message"), *(payload.get("data") or [])]


class QueryError(HarnessError):
    """An InfluxQL query failed; the message is one line naming why."""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# Answers in which InfluxDB blames lines of the batch (1.x, 2.x and 3.x wordings).
_LINE_FAULTS = (
    "partial write",
    "unable to parse",
    "parsing failed",
    "field type conflict",
    "beyond retention policy",
)
# Partial writes caused by the server's own limits: the lines are fine, the server is full.
_SERVER_LIMITS = ("max-series-per-database", "max-values-per-tag")


def classify_write_failure(
    status: int, body: str, headers_retry_after: float | None = None, url: str = "InfluxDB"
) -> WriteError:
    text = " ".join(body.split())[:300]
    lowered = text.lower()
    if status in (401, 403):
        return WriteError(
            "auth", f"InfluxDB at {url} refused the credentials (HTTP {status}): {text}", status, body=body
        )
    if status == 429:
        return WriteError(
            "throttled",
            f"InfluxDB is throttling writes (HTTP 429): {text}",
            status,
            headers_retry_after,
            body,
        )
    if status >= 500:
        return WriteError(
            "server", f"InfluxDB server error (HTTP {status}): {text}", status, headers_retry_after, body
        )
    if "database not found" in lowered or "bucket not found" in lowered:
        return WriteError(
            "database_not_found",
            f"InfluxDB at {url}: database not found (HTTP {status}): {text}",
            status,
            body=body,
        )
    if status == 413 or (
        status in (400, 422)
        and any(m in lowered for m in _LINE_FAULTS)
        and not any(m in lowered for m in _SERVER_LIMITS)
    ):
        return WriteError(
            "rejected", f"InfluxDB rejected lines of the batch (HTTP {status}): {text}", status, body=body
        )
    return WriteError(
        "refused", f"{url} refused the write (HTTP {status}): {text or 'no message'}", status, body=body
    )


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
            raise HarnessError(
                f"InfluxDB at {self.settings.url} answered /ping with HTTP {response.status_code}"
            )
        return response.headers.get("X-Influxdb-Version", "unknown")

    # -- write ----------------------------------------------------------------------------
    def write(
        self, body: bytes, *, retention_policy: str = "", compress: bool | None = None, gzipped: bool = False
    ) -> None:
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
            response = self.session.post(
                f"{self.base}/write",
                params=params,
                data=body,
                headers=headers,
                timeout=self.settings.timeout_s,
            )
        except requests.RequestException as exc:
            raise WriteError("network", f"InfluxDB unreachable: {_reason(exc)}") from None
        if response.status_code == 204:
            return
        if response.status_code < 300:
            # InfluxDB confirms a write with 204 alone; a 200 comes from something else, which
            # may have stored nothing.
            raise WriteError(
                "refused",
                f"{self.settings.url} answered a write with HTTP {response.status_code}, "
                "not InfluxDB's 204: is it InfluxDB?",
                response.status_code,
            )
        raise classify_write_failure(
            response.status_code, response.text, _retry_after(response), self.settings.url
        )

    # -- query ----------------------------------------------------------------------------
    def query(
        self, influxql: str, *, epoch: str = "ns", database: str | None = None, method: str = "GET"
    ) -> list[dict[str, Any]]:
        """Run InfluxQL; return the list of ``series`` of every statement, flattened.

        Each series is ``{"name", "tags", "columns", "values"}`` as InfluxDB sends it."""
        return [
            s
            for result in self.query_results(influxql, epoch=epoch, database=database, method=method)
            for s in result.get("series", [])
        ]

    def query_results(
        self, influxql: str, *, epoch: str = "ns", database: str | None = None, method: str = "GET"
    ) -> list[dict[str, Any]]:
        params = {"q": influxql, "db": database if database is not None else self.settings.database}
        if epoch:
            params["epoch"] = epoch
        try:
            if method == "POST":
                response = self.session.post(
                    f"{self.base}/query", data=params, timeout=self.settings.timeout_s * 6
                )
            else:
                response = self.session.get(
                    f"{self.base}/query", params=params, timeout=self.settings.timeout_s * 6
                )
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB at {self.settings.url} is unreachable ({_reason(exc)})") from None
        if response.status_code in (401, 403):
            raise QueryError(
                f"InfluxDB at {self.settings.url} refused the credentials (HTTP {response.status_code}); "
                "check --influx-token or --influx-user/--influx-password"
            )
        try:
            payload = response.json()
        except ValueError:
            raise QueryError(
                f"InfluxDB answered HTTP {response.status_code} with no JSON to {influxql[:80]!r}"
            ) from None
        if "error" in payload:
            raise QueryError(f"InfluxDB: {payload['error']}")
        results: list[dict[str, Any]] = payload.get("results", [])
        for result in results:
            if "error" in result:
                raise QueryError(f"InfluxDB: {result['error']} (in {influxql[:120]!r})")
        return results

    def query_chunked(
        self, influxql: str, *, chunk_size: int = 20_000, msgpack: bool = True
    ) -> tuple[str, Iterator[bytes]]:
        """One SELECT answered in chunks (``chunked=true``), asking for MessagePack, which InfluxDB
        1.x encodes and numpy reads several times faster than JSON (bench/README.md). Returns the
        answer's content type (servers without MessagePack, 2.x/3.x compatibility APIs, answer
        newline-delimited JSON) and its body in blocks; see ``json_series`` and
        ``harness.influx.msgpack_series``. ``msgpack=False``: JSON (string fields, such as sketches,
        which ``msgpack_series`` does not read)."""
        params = {
            "q": influxql,
            "db": self.settings.database,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(chunk_size),
        }
        try:
            response = self.session.get(
                f"{self.base}/query",
                params=params,
                stream=True,
                headers={
                    "Accept": "application/x-msgpack" if msgpack else "application/json",
                    # Over loopback InfluxDB's gzip of a large answer costs more
                    # than it saves: 4.1 s against 1.2 s for 73 MB of sketches.
                    **({} if self.compress_writes else {"Accept-Encoding": "identity"}),
                },
                timeout=self.settings.timeout_s * 6,
            )
        except requests.RequestException as exc:
            raise QueryError(f"InfluxDB at {self.settings.url} is unreachable ({_reason(exc)})") from None
        if response.status_code in (401, 403):
            raise QueryError(
                f"InfluxDB at {self.settings.url} refused the credentials (HTTP {response.status_code}); "
                "check --influx-token or --influx-user/--influx-password"
            )
        return response.headers.get("Content-Type", ""), self._blocks(response)

    def _blocks(self, response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(1 << 20)
        except requests.RequestException as exc:
            raise QueryError(
                f"InfluxDB at {self.settings.url} broke off an answer ({_reason(exc)})"
            ) from None

    def create_database(self) -> None:
        """CREATE DATABASE is idempotent on 1.x; on 2.x/3.x the bucket must exist already."""
        self.query_results(f"CREATE DATABASE {quote_ident(self.settings.database)}", method="POST", epoch="")

    def create_retention_policy(self, name: str, duration: str, default: bool = False) -> None:
        statement = (
            f"CREATE RETENTION POLICY {quote_ident(name)} ON {quote_ident(self.settings.database)} "
            f"DURATION {duration} REPLICATION 1{' DEFAULT' if default else ''}"
        )
        self.query_results(statement, method="POST", epoch="")


def json_series(blocks: Iterator[bytes], influxql: str) -> Iterator[dict[str, Any]]:
    """The series of a chunked JSON answer (one document per line), in order."""
    # Parts of the current line are kept apart and joined once its end arrives: a document of many
    # megabytes (a chunk of sketches) would otherwise be copied and split again with every block.
    parts: list[bytes] = []
    for block in blocks:
        if b"\n" not in block:
            parts.append(block)
            continue
        *lines, rest = (b"".join(parts) + block).split(b"\n")
        parts = [rest]
        for line in lines:
            if line.strip():
                yield from _series_of(_document(line, influxql), influxql)
    pending = b"".join(parts)
    if pending.strip():
        yield from _series_of(_document(pending, influxql), influxql)


def _document(line: bytes, influxql: str) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(line)
        return document
    except ValueError:
        raise QueryError(f"InfluxDB answered with no JSON to {influxql[:80]!r}") from None


def _series_of(document: dict[str, Any], influxql: str) -> list[dict[str, Any]]:
    if "error" in document:
        raise QueryError(f"InfluxDB: {document['error']}")
    series: list[dict[str, Any]] = []
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
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
        "Temporary failure in name resolution",
        "Connection reset",
    ):
        if marker in text:
            return marker.lower()
    return type(exc).__name__

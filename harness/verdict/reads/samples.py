"""Read a run's raw request values once, chunked, into numpy arrays per endpoint.

Every statistic of the verdict (percentiles, their per-window spread, failures, max) is then
computed from these arrays in one process, instead of one InfluxDB ``PERCENTILE`` pass per
statistic (bench/README.md, "Check over 1,000,000 points").
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from harness.influx.client import InfluxClient, json_series, quote_ident, quote_string
from harness.influx.msgpack_series import numeric_series
from harness.verdict.model import Samples

# The latency fields read for every request; a new one (e.g. a scheduled response time) is one
# more name here, and its values appear in ``Samples.values`` under that name.
LATENCY_FIELDS: tuple[str, ...] = ("response_time",)
ENDPOINT_TAGS = ("api", "method", "name")


def samples_statement(
    run_id: str, start_ns: int, end_ns: int, fields: tuple[str, ...] = LATENCY_FIELDS
) -> str:
    columns = ", ".join(quote_ident(f) for f in fields)
    groups = ", ".join(quote_ident(t) for t in (*ENDPOINT_TAGS, "result"))
    return (
        f'SELECT {columns} FROM "request" WHERE "run_id" = {quote_string(run_id)} '
        f"AND time >= {int(start_ns)} AND time <= {int(end_ns)} GROUP BY {groups}"
    )


def _numeric_series(
    client: InfluxClient, statement: str, columns: int
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    kind, blocks = client.query_chunked(statement)
    if "msgpack" in kind:
        return numeric_series(blocks, statement)
    # Each chunk becomes an array at once: a million rows as Python lists would take ~130 MB.
    return (
        (s.get("tags") or {}, np.array(s.get("values") or [], dtype=np.float64).reshape(-1, columns))
        for s in json_series(blocks, statement)
    )


def _read_part(client: InfluxClient, statement: str, columns: int) -> dict[tuple[Any, ...], list[np.ndarray]]:
    pieces: dict[tuple[Any, ...], list[np.ndarray]] = {}
    for tags, rows in _numeric_series(client, statement, columns):
        key = (*(tags.get(t, "") for t in ENDPOINT_TAGS), tags.get("result") == "fail")
        pieces.setdefault(key, []).append(rows)
    return pieces


def read_samples(
    client: InfluxClient,
    run_id: str,
    start_ns: int,
    end_ns: int,
    fields: tuple[str, ...] = LATENCY_FIELDS,
    parts: int = 1,
) -> dict[tuple[str, str, str], Samples]:
    """(api, method, name) → that endpoint's samples in ``[start_ns, end_ns]`` (both included).

    ``parts`` > 1 reads that many consecutive time slices as concurrent requests."""
    edges = [start_ns + (end_ns - start_ns) * i // parts for i in range(parts)] + [end_ns + 1]
    statements = [samples_statement(run_id, a, b - 1, fields) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    if len(statements) == 1:
        results = [_read_part(client, statements[0], 1 + len(fields))]
    else:
        with ThreadPoolExecutor(len(statements)) as pool:
            # A client (a requests session) per thread: sessions are not thread-safe.
            results = list(
                pool.map(
                    lambda sql: _read_part(InfluxClient(client.settings), sql, 1 + len(fields)), statements
                )
            )
    pieces: dict[tuple[Any, ...], list[np.ndarray]] = {}
    for result in results:  # in time order, so each series' chunks stay in time order
        for key, chunks in result.items():
            pieces.setdefault(key, []).extend(chunks)
    by_endpoint: dict[tuple[str, str, str], list[Samples]] = {}
    for (api, method, name, failed), chunks in pieces.items():
        table = np.concatenate(chunks)
        by_endpoint.setdefault((api, method, name), []).append(
            Samples(
                table[:, 0], {f: table[:, 1 + i] for i, f in enumerate(fields)}, np.full(len(table), failed)
            )
        )
    return {
        key: ok_and_failed[0] if len(ok_and_failed) == 1 else Samples.joined(ok_and_failed)
        for key, ok_and_failed in by_endpoint.items()
    }

"""Read a run's raw request values once, chunked, into numpy arrays per endpoint.

Every statistic of the verdict (percentiles, their per-window spread, failures, max) is then
computed from these arrays in one process, instead of one InfluxDB ``PERCENTILE`` pass per
statistic (bench/README.md, "Check over 1,000,000 points").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.influx.client import InfluxClient, quote_ident, quote_string

# The latency fields read for every request; a new one (e.g. a scheduled response time) is one
# more name here, and its values appear in ``Samples.values`` under that name.
LATENCY_FIELDS: tuple[str, ...] = ("response_time",)
ENDPOINT_TAGS = ("api", "method", "name")


@dataclass(frozen=True)
class Samples:
    """The raw requests of one scope in the judged window, in time order."""

    t_ns: np.ndarray  # float64 ns since the epoch (ordering and windows only, not exact)
    values: dict[str, np.ndarray]  # latency field → float64 ms, NaN where a point lacks it
    failed: np.ndarray  # bool, the request's result tag was "fail"

    @property
    def count(self) -> int:
        return len(self.t_ns)

    @classmethod
    def joined(cls, parts: list["Samples"]) -> "Samples":
        """Several scopes' samples as one, in time order (an API group from its endpoints)."""
        t = np.concatenate([p.t_ns for p in parts])
        order = np.argsort(t, kind="stable")  # timsort: linear on already-sorted runs
        return cls(t[order], {f: np.concatenate([p.values[f] for p in parts])[order] for f in parts[0].values},
                   np.concatenate([p.failed for p in parts])[order])


def samples_statement(run_id: str, start_ns: int, end_ns: int, fields: tuple[str, ...] = LATENCY_FIELDS) -> str:
    columns = ", ".join(quote_ident(f) for f in fields)
    groups = ", ".join(quote_ident(t) for t in (*ENDPOINT_TAGS, "result"))
    return (f'SELECT {columns} FROM "request" WHERE "run_id" = {quote_string(run_id)} '
            f"AND time >= {int(start_ns)} AND time <= {int(end_ns)} GROUP BY {groups}")


def read_samples(client: InfluxClient, run_id: str, start_ns: int, end_ns: int,
                 fields: tuple[str, ...] = LATENCY_FIELDS) -> dict[tuple[str, str, str], Samples]:
    """(api, method, name) → that endpoint's samples in ``[start_ns, end_ns]`` (both included)."""
    # Each chunk becomes an array at once: a million rows as Python lists would take ~130 MB.
    pieces: dict[tuple[str, str, str, bool], list[np.ndarray]] = {}
    for series in client.query_series_chunks(samples_statement(run_id, start_ns, end_ns, fields)):
        tags = series.get("tags") or {}
        key = (*(tags.get(t, "") for t in ENDPOINT_TAGS), tags.get("result") == "fail")
        rows = np.array(series.get("values") or [], dtype=np.float64).reshape(-1, 1 + len(fields))
        pieces.setdefault(key, []).append(rows)
    by_endpoint: dict[tuple[str, str, str], list[Samples]] = {}
    for (api, method, name, failed), chunks in pieces.items():
        table = np.concatenate(chunks)
        by_endpoint.setdefault((api, method, name), []).append(Samples(
            table[:, 0], {f: table[:, 1 + i] for i, f in enumerate(fields)},
            np.full(len(table), failed)))
    return {key: parts[0] if len(parts) == 1 else Samples.joined(parts) for key, parts in by_endpoint.items()}

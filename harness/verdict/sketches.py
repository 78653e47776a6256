"""Sketch mode's side of the verdict: read a run's ``request_sketch`` points (every worker's, per
endpoint, status and second) and give every statistic the raw points give — requests, failures,
success rate, max, p50/p95/p99 (within the sketch's 1 %), their per-window spread, and in the
arrival model the latency from the scheduled start — so the evaluator, the comparison with a
baseline and the reports cannot tell the sources apart except by the accuracy they state.

Counts, failures and max are exact: they are sums and maxima of exact per-second numbers.
Percentiles come from the merged sketch of the judged window (bucket counts add exactly; see
harness/influx/sketch.py). A window holds the seconds whose start lies in it; the verdict's judged
window starts on a second's start whenever the run stored sketches (``measure.judged_window``), so
both sources judge exactly the same requests.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from harness.influx.client import InfluxClient, json_series, quote_string
from harness.influx.sketch import FLEET_MEASUREMENT, MEASUREMENT as SKETCH_MEASUREMENT, RELATIVE_ACCURACY, Sketch
from harness.verdict.estimate import MIN_WINDOWS, PERCENTILES, _standard_error, windows_for
from harness.verdict.model import Latency, Spread

MEASUREMENT = SKETCH_MEASUREMENT
FLEET = FLEET_MEASUREMENT
SOURCES = ("requests", "sketches")
ENDPOINT_TAGS = ("api", "method", "name")
_FIELDS = ("count", "failures", "min", "max", "sketch")
_SCHEDULED = ("scheduled_count", "scheduled_min", "scheduled_max", "scheduled_sketch")


def accuracy_note(source: str) -> str:
    if source == "sketches":
        return (f"percentiles from merged DDSketch sketches (relative accuracy {RELATIVE_ACCURACY:.0%}); "
                f"counts, failures and max exact")
    return "percentiles exact (nearest rank over every request point)"


@dataclass
class Bins:
    """Many rows' sketches in flat arrays: row i's buckets are ``keys[offsets[i]:offsets[i + 1]]``
    with ``counts`` alike, its zeros ``zeros[i]``. Parsed in one pass (numpy reads the text), and any
    set of rows merges with one ``bincount``."""

    zeros: np.ndarray  # int64 per row
    offsets: np.ndarray  # int64, rows + 1
    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def parse(cls, texts: list[str | None]) -> "Bins":
        zeros = np.zeros(len(texts), dtype=np.int64)
        lengths = np.zeros(len(texts), dtype=np.int64)
        bins = []
        for i, text in enumerate(texts):
            if not text:
                continue
            z, _, b = text.partition(";")
            zeros[i] = int(z or 0)
            if b:
                lengths[i] = b.count(":")
                bins.append(b)
        # numpy's text reader: 6x faster than splitting in Python for the millions of numbers of a long run
        flat = np.fromstring(",".join(bins).replace(":", ","), dtype=np.int64, sep=",") if bins else \
            np.zeros(0, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return cls(zeros, offsets, flat[0::2], flat[1::2])

    def take(self, rows: np.ndarray) -> "Bins":
        """These rows, in this order."""
        lengths = np.diff(self.offsets)[rows]
        starts = self.offsets[:-1][rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Bins(self.zeros[rows], offsets, self.keys[index], self.counts[index])

    @classmethod
    def joined(cls, parts: list["Bins"]) -> "Bins":
        shift = np.cumsum([0] + [len(p.keys) for p in parts[:-1]])
        return cls(np.concatenate([p.zeros for p in parts]),
                   np.concatenate([[0]] + [p.offsets[1:] + k for p, k in zip(parts, shift)]),
                   np.concatenate([p.keys for p in parts]), np.concatenate([p.counts for p in parts]))

    def merged(self, rows: np.ndarray | None = None) -> Sketch:
        """The sketch of the given rows (all when None); rows in ascending order."""
        if rows is None:
            keys, counts, zeros = self.keys, self.counts, int(self.zeros.sum())
        elif len(rows) and rows[-1] - rows[0] + 1 == len(rows):  # a contiguous run of rows: one slice
            a, b = self.offsets[rows[0]], self.offsets[rows[-1] + 1]
            keys, counts, zeros = self.keys[a:b], self.counts[a:b], int(self.zeros[rows].sum())
        else:
            part = self.take(rows)
            keys, counts, zeros = part.keys, part.counts, int(part.zeros.sum())
        return Sketch.of_bins(keys, counts, zeros)


@dataclass
class SketchScope:
    """One scope's seconds in the window, in time order (several workers' and statuses' points of
    one second are separate rows)."""

    t_ns: np.ndarray  # int64, each second's start
    count: np.ndarray  # int64
    failures: np.ndarray  # int64
    low: np.ndarray  # float64, exact min of the second
    high: np.ndarray  # float64, exact max
    bins: Bins
    scheduled: Bins | None = None  # arrival model: the latency from the scheduled start
    scheduled_count: np.ndarray | None = None
    scheduled_low: np.ndarray | None = None
    scheduled_high: np.ndarray | None = None

    @classmethod
    def joined(cls, parts: list["SketchScope"]) -> "SketchScope":
        order = np.argsort(np.concatenate([p.t_ns for p in parts]), kind="stable")
        cat = lambda f: np.concatenate([getattr(p, f) for p in parts])[order]  # noqa: E731
        sched = all(p.scheduled is not None for p in parts)
        return cls(cat("t_ns"), cat("count"), cat("failures"), cat("low"), cat("high"),
                   Bins.joined([p.bins for p in parts]).take(order),
                   Bins.joined([p.scheduled for p in parts]).take(order) if sched else None,
                   *((cat("scheduled_count"), cat("scheduled_low"), cat("scheduled_high")) if sched else
                     (None, None, None)))

    @property
    def requests(self) -> int:
        return int(self.count.sum())


def has_sketches(client: InfluxClient, run_id: str) -> bool:
    return bool(client.query(f'SELECT last("count") FROM "{MEASUREMENT}" WHERE "run_id" = {quote_string(run_id)}'))


def sketch_bounds(client: InfluxClient, run_id: str) -> tuple[int, int, int] | None:
    """(first request's start ns, last request's start ns, requests stored) over every worker."""
    where = f'"run_id" = {quote_string(run_id)}'
    first, last, total = client.query_results(
        f'SELECT min("first") FROM "{MEASUREMENT}" WHERE {where}; '
        f'SELECT max("last") FROM "{MEASUREMENT}" WHERE {where}; '
        f'SELECT sum("count") FROM "{MEASUREMENT}" WHERE {where}')
    values = [r["series"][0]["values"][0][1] if r.get("series") else None for r in (first, last, total)]
    if values[0] is None:
        return None
    return int(values[0]), int(values[1]), int(values[2])


def read_sketches(client: InfluxClient, run_id: str, start_ns: int, end_ns: int,
                  scheduled: bool = False, parts: int = 2) -> dict[tuple[str, str, str], SketchScope]:
    """(api, method, name) → its seconds starting in ``[start_ns, end_ns]``, all workers and statuses.

    ``parts`` time slices are read as concurrent requests (InfluxDB encodes one answer on one core)."""
    fields = _FIELDS + (_SCHEDULED if scheduled else ())
    columns = ", ".join(f'"{f}"' for f in fields)
    edges = [start_ns + (end_ns - start_ns) * i // parts for i in range(parts)] + [end_ns + 1]
    statements = [f'SELECT {columns} FROM "{MEASUREMENT}" WHERE "run_id" = {quote_string(run_id)} '
                  f'AND time >= {int(a)} AND time <= {int(b) - 1} GROUP BY "api", "method", "name"'
                  for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def read(statement: str) -> dict[tuple[str, str, str], list[list]]:
        # A client (a requests session) per thread: sessions are not thread-safe.
        _kind, blocks = InfluxClient(client.settings).query_chunked(statement, msgpack=False)
        rows: dict[tuple[str, str, str], list[list]] = {}
        for series in json_series(blocks, statement):
            tags = series.get("tags") or {}
            rows.setdefault(tuple(tags.get(t, "") for t in ENDPOINT_TAGS), []).extend(series.get("values") or [])
        return rows

    with ThreadPoolExecutor(len(statements)) as pool:
        results = list(pool.map(read, statements))
    rows: dict[tuple[str, str, str], list[list]] = {}
    for result in results:
        for key, values in result.items():
            rows.setdefault(key, []).extend(values)
    return {key: _scope(values, scheduled) for key, values in rows.items()}


def _scope(values: list[list], scheduled: bool) -> SketchScope:
    """Rows of time, count, failures, min, max, sketch[, scheduled_count, _min, _max, _sketch]."""
    values.sort(key=lambda row: row[0])

    def column(i: int, kind) -> np.ndarray:
        return np.array([row[i] if row[i] is not None else 0 for row in values], dtype=kind)

    scope = SketchScope(column(0, np.int64), column(1, np.int64), column(2, np.int64), column(3, np.float64),
                        column(4, np.float64), Bins.parse([row[5] for row in values]))
    if scheduled:
        scope.scheduled = Bins.parse([row[9] for row in values])
        scope.scheduled_count = column(6, np.int64)
        scope.scheduled_low, scope.scheduled_high = column(7, np.float64), column(8, np.float64)
    return scope


def _percentiles(sketch: Sketch, low: float | None, high: float | None) -> dict[str, float | None]:
    return {name: sketch.percentile(p, low, high) for name, p in PERCENTILES.items()}


def stats_from_sketches(scope: SketchScope, duration_s: float, max_windows: int) -> dict:
    """Stats' fields for one scope, as ``estimate.stats_of`` gives them from raw points."""
    requests, failures = scope.requests, int(scope.failures.sum())
    present = scope.count > 0
    low = float(scope.low[present].min()) if present.any() else None
    high = float(scope.high[present].max()) if present.any() else None
    p = _percentiles(scope.bins.merged(), low, high)
    return dict(requests=requests, failures=failures,
                success_rate=100.0 * (requests - failures) / requests if requests else None,
                p50=p["p50"], p95=p["p95"], p99=p["p99"], max=high,
                rps=requests / duration_s if duration_s > 0 else 0.0,
                spread=_spread(scope, max_windows))


def _spread(scope: SketchScope, max_windows: int) -> dict[str, Spread]:
    """The batch-means standard errors of ``estimate.spread``, with windows of whole seconds cut
    at (nearly) equal request counts."""
    n = scope.requests
    cumulative = np.cumsum(scope.count) - scope.count  # requests before each second
    out: dict[str, Spread] = {}
    for statistic, p in PERCENTILES.items():
        k = windows_for(statistic, n, max_windows)
        values = []
        for part in _windows(cumulative, n, k):
            value = scope.bins.merged(part).percentile(p, float(scope.low[part].min()),
                                                       float(scope.high[part].max()))
            if value is not None:
                values.append(value)
        if len(values) >= MIN_WINDOWS:
            out[statistic] = _standard_error(values)
    k = windows_for("success_rate", n, max_windows)
    rates = [100.0 * (1.0 - scope.failures[part].sum() / scope.count[part].sum())
             for part in _windows(cumulative, n, k) if scope.count[part].sum()]
    if len(rates) >= MIN_WINDOWS:
        out["success_rate"] = _standard_error(rates)
    return out


def _windows(cumulative: np.ndarray, n: int, k: int) -> list[np.ndarray]:
    if not k or not n:
        return []
    which = np.minimum((cumulative * k) // n, k - 1)
    return [idx for idx in (np.flatnonzero(which == j) for j in range(k)) if len(idx)]


def scheduled_latency(scope: SketchScope) -> Latency | None:
    if scope.scheduled is None or scope.scheduled_count is None:
        return None
    rows = np.flatnonzero(scope.scheduled_count > 0)
    if not len(rows):
        return None
    low, high = float(scope.scheduled_low[rows].min()), float(scope.scheduled_high[rows].max())
    p = _percentiles(scope.scheduled.merged(rows), low, high)
    return Latency(p50=p["p50"], p95=p["p95"], p99=p["p99"], max=high)


def errors_by_status(client: InfluxClient, run_id: str, start_ns: int, end_ns: int) -> dict[tuple, dict[str, int]]:
    """(method, name, status) → error text → count, from the failures' points."""
    statement = (f'SELECT "errors" FROM "{MEASUREMENT}" WHERE "run_id" = {quote_string(run_id)} AND "result" = \'fail\' '
                 f'AND time >= {int(start_ns)} AND time <= {int(end_ns)} GROUP BY "method", "name", "status"')
    out: dict[tuple, dict[str, int]] = {}
    for series in client.query(statement):
        tags = series.get("tags") or {}
        counts = out.setdefault((tags.get("method"), tags.get("name"), tags.get("status")), {})
        for _, text in series.get("values") or []:
            for error, n in json.loads(text or "{}").items():
                counts[error] = counts.get(error, 0) + n
    return out

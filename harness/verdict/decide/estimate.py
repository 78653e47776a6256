"""Statistics of one scope from its raw samples: exact percentiles (InfluxDB's nearest rank) and
the per-window spread a baseline comparison needs. Pure numpy, no I/O.

The spread is the batch-means standard error: the requests, in time order, are cut into K
consecutive windows of equal count; the statistic is computed in each window, and
SE = sd(window values) / sqrt(K), with K - 1 degrees of freedom. Requests close in time (a
GC pause, a busy neighbour) stay in one window, so their dependence widens the spread instead
of being counted as independent evidence, as it would be by a plain bootstrap of requests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.verdict.model import Samples, Spread

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
# Fewer windows than this give no spread: with 3 degrees of freedom a t-interval is too wide to
# decide anything.
MIN_WINDOWS = 5
# Requests a window holds on average beyond a percentile (its tail). With fewer, a window's "p99"
# is really a lower percentile whose spread is smaller, and intervals come out too narrow: in
# simulated A/A pairs with zero minimum effect (bench/README.md) one tail request per window
# called up to 19 % of pairs regressed at a 5 % rate, three kept it within 2–6 %.
TAIL_PER_WINDOW = 3
# A window's success rate needs a few requests to be a rate at all.
MIN_REQUESTS_PER_RATE_WINDOW = 10


def rank_index(n: int, percentile: float) -> int | None:
    """The 0-based index of InfluxDB's PERCENTILE (nearest rank, ``floor(n·p/100 + 0.5) - 1``)
    in the sorted values, or None where InfluxDB returns no value."""
    i = int(math.floor(n * percentile / 100.0 + 0.5)) - 1
    return i if 0 <= i < n else None


def percentiles(values: np.ndarray, wanted: dict[str, float] = PERCENTILES) -> dict[str, float | None]:
    """Exact nearest-rank percentiles, equal to InfluxDB's PERCENTILE over the same values."""
    index = {name: rank_index(len(values), p) for name, p in wanted.items()}
    present = sorted({i for i in index.values() if i is not None})
    if not present:
        return dict.fromkeys(wanted)
    part = np.partition(values, present)  # O(n): only the ranks asked for end up in place
    return {name: None if i is None else float(part[i]) for name, i in index.items()}


def windows_for(statistic: str, n: int, max_windows: int) -> int:
    """How many windows a statistic's spread uses: at most ``max_windows``, and few enough that
    each window holds on average TAIL_PER_WINDOW requests beyond a percentile, or ten requests for
    a success rate. Below MIN_WINDOWS there is no spread (0)."""
    if statistic in PERCENTILES:
        room = int(n * (1 - PERCENTILES[statistic] / 100.0) / TAIL_PER_WINDOW + 1e-9)
    else:
        room = n // MIN_REQUESTS_PER_RATE_WINDOW
    k = min(max_windows, room)
    return k if k >= MIN_WINDOWS else 0


def spread(values: np.ndarray, failed: np.ndarray, max_windows: int) -> dict[str, Spread]:
    """Per-window standard errors of p50, p95, p99 (over ``values``) and of the success rate
    (over ``failed``), both in time order."""
    out: dict[str, Spread] = {}
    for statistic, p in PERCENTILES.items():
        per_window = [
            _one_percentile(w, p) for w in _windows(values, windows_for(statistic, len(values), max_windows))
        ]
        if per_window:
            out[statistic] = _standard_error(per_window)
    per_window = [
        100.0 * (1.0 - w.mean())
        for w in _windows(failed, windows_for("success_rate", len(failed), max_windows))
    ]
    if per_window:
        out["success_rate"] = _standard_error(per_window)
    return out


def _windows(ordered: np.ndarray, k: int) -> list[np.ndarray]:
    """``k`` consecutive slices of (nearly) equal count; none when k is 0."""
    edges: np.ndarray | list[int] = (np.arange(k + 1) * len(ordered)) // k if k else []
    return [ordered[a:b] for a, b in zip(edges[:-1], edges[1:])]


def _standard_error(per_window: list[float]) -> Spread:
    return Spread(float(np.std(per_window, ddof=1) / math.sqrt(len(per_window))), len(per_window))


def _one_percentile(values: np.ndarray, p: float) -> float:
    i = rank_index(len(values), p)
    assert i is not None  # a window holds values, and p is 50, 95 or 99
    return float(np.partition(values, i)[i])


def stats_of(
    samples: Samples, duration_s: float, max_windows: int, field: str = "response_time"
) -> dict[str, Any]:
    """Stats' fields for one scope from its samples of one latency field (kwargs for Stats or
    EndpointStats). Points without that field count as requests but not in its percentiles."""
    values, failed = samples.values[field], samples.failed
    present = ~np.isnan(values)
    latencies = values if present.all() else values[present]
    requests, failures = samples.count, int(failed.sum())
    p = percentiles(latencies)
    return dict(
        requests=requests,
        failures=failures,
        success_rate=100.0 * (requests - failures) / requests if requests else None,
        p50=p["p50"],
        p95=p["p95"],
        p99=p["p99"],
        max=float(latencies.max()) if len(latencies) else None,
        rps=requests / duration_s if duration_s > 0 else 0.0,
        spread=spread(latencies, failed, max_windows),
    )

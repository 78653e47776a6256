"""How bursty a scope's bad requests are: the dispersion factor φ by which the live abort's exact
test shrinks its counts (docs/decisions.md, "bursts").

The exact binomial test (``sequential.py``) assumes that requests fail, or come back slower than a
limit, independently. A real service's bad answers come in bursts (a pause, a retry storm, a
cold cache): the count of a window then varies φ times as much as a binomial count, and a healthy
run whose every limit holds over its length crosses the binomial's bound in some window. With
failures bursting as an AR(1) latent of ρ 0.9 between consecutive requests, 57 % of healthy
30-minute runs at 20 requests/s were aborted (bench/README.md, issue 16's first pass).

φ is the long-run variance of the per-second counts over their binomial variance: the residuals
``bad_i − p̂ n_i`` of each second around the span's own rate, their autocovariances up to a lag
weighted by the Bartlett kernel (Newey and West; so that bursts that straddle seconds count too),
over ``p̂ (1 − p̂) Σ n_i``. It is never below 1: independent requests keep the exact test, and a
quiet span never makes the test more eager. The test then runs on effective counts, ``n / φ``
requests and ``count / φ`` bad ones (Kish's design effect), with the binomial tail continued to
non-integer counts by the regularised incomplete beta function.

The span is the judged window and the ``SPAN_WINDOWS − 1`` window lengths before it (from the end
of the warm-up): the window's own burst must be in the estimate (an estimate from the seconds
before the window alone let 64 of 100 bursty runs at 2/s through: their aborting windows are the
ones that hold a burst), and a span several windows long sees bursts often enough to measure them.
The price is that a change that lasts longer than the span is what a change of level looks like:
until the span is wholly past its start, the step itself inflates φ, so an outage that the plain
test would stop within a window is stopped up to a span later (bench/README.md measures it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# The span over which φ is estimated, in window lengths (the window is the last of them).
SPAN_WINDOWS = 4


def bandwidth(residuals: Sequence[float]) -> int:
    """The Bartlett kernel's last lag by Andrews' AR(1) plug-in rule, 1.1447 (α̂ T)^(1/3) with
    α̂ = 4ρ̂² / ((1 − ρ̂)² (1 + ρ̂)²) from the residuals' lag-1 autocorrelation ρ̂ (clipped to
    [0, 0.97]): long bursts get long lags. Newey and West's fixed ⌊4 (T / 100)^(2/9)⌋ (4 lags for
    120 seconds) let 8 of 400 bursty runs at 2 requests/s be aborted; this rule, 3 of 400."""
    square = sum(r * r for r in residuals)
    if square <= 0:
        return 1
    rho = sum(a * b for a, b in zip(residuals[1:], residuals[:-1])) / square
    rho = min(max(rho, 0.0), 0.97)
    alpha = 4 * rho * rho / ((1 - rho) ** 2 * (1 + rho) ** 2)
    return max(1, int(1.1447 * (alpha * len(residuals)) ** (1 / 3)))


def dispersion(seconds: Sequence[tuple[int, int]]) -> float:
    """φ of per-second ``(requests, bad)`` counts in time order (seconds with no request included
    as (0, 0)): 1 when they vary as independent requests would, or less, or cannot tell."""
    total = sum(n for n, _ in seconds)
    bad = sum(b for _, b in seconds)
    if total <= 0 or bad <= 0 or bad >= total or len(seconds) < 2:
        return 1.0
    rate = bad / total
    residuals = [b - rate * n for n, b in seconds]
    lags = min(bandwidth(residuals), len(seconds) - 1)
    variance = sum(r * r for r in residuals)
    for lag in range(1, lags + 1):
        weight = 1 - lag / (lags + 1)
        variance += 2 * weight * sum(a * b for a, b in zip(residuals[lag:], residuals[:-lag]))
    phi = variance / (total * rate * (1 - rate))
    return max(1.0, phi) if math.isfinite(phi) else 1.0


def span_start_ns(window_start_ns: int, window_end_ns: int, judged_start_ns: int) -> int:
    """Where the span of a window's dispersion starts: ``SPAN_WINDOWS − 1`` window lengths before
    the window, but not in the warm-up (``judged_start_ns``, which the verdict does not judge
    either)."""
    before = (SPAN_WINDOWS - 1) * (window_end_ns - window_start_ns)
    return max(judged_start_ns, window_start_ns - before)

"""The live checks' decision as a sequential test (issue 16, docs/decisions.md): a window aborts
the run only when an exact one-sided binomial test rejects "the limit holds", at a level spread
over every look the run can make and every test made at a look.

Pure: counts in, decisions out. A success-rate limit L % holds when a request fails with
probability at most 1 − L/100, so the window's failures are tested against Binomial(n, 1 − L/100);
a latency limit on pXX holds when a request is slower than it with probability at most
1 − XX/100, so the window's requests slower than the limit are tested against Binomial(n, 1 − XX/100).
The p-value is P(X ≥ count) at the boundary of the null, the least favourable point of it.
"""

from __future__ import annotations

import math

# Imported with the module, not on first use: the live checks run inside Locust's event loop, and
# importing scipy.stats there (about a second of CPU) stalled every user at the first look — a
# 20-user run then fell short of its generation rate (exit 2 instead of 1 after an abort).
# scipy.special's bdtrc is the same exact tail as scipy.stats' binom.sf (which calls it) at a third
# of the import cost, which every `harness` command pays at start-up.
from scipy.special import bdtrc, betainc

from harness.verdict.model import ExactTest

# The checks tested this way and the probability of a "bad" request when the limit just holds
# (for success_rate the limit itself gives it: 1 − limit/100).
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
TESTED = ("success_rate", *PERCENTILES)


def null_probability(metric: str, limit: float) -> float | None:
    """The chance of a bad request when the limit just holds; None for a check not tested this way
    or a limit that is not a finite number (never decides)."""
    if not isinstance(limit, (int, float)) or not math.isfinite(limit):
        return None
    if metric == "success_rate":
        return round(min(1.0, max(0.0, 1.0 - limit / 100.0)), 12)  # 0.05, not 0.050000000000000044
    if metric in PERCENTILES:
        return 1.0 - PERCENTILES[metric] / 100.0
    return None


def p_value(count: int, n: int, p0: float, dispersion: float = 1.0) -> float:
    """P(X ≥ count), X ~ Binomial(n, p0): exact, from scipy's binomial tail (P(X > count − 1)).

    With ``dispersion`` φ > 1 (bad requests came in bursts: dispersion.py), the same tail on the
    effective counts ``count / φ`` of ``n / φ``: I_p0(c, m − c + 1), the regularised incomplete
    beta function that equals the binomial tail at whole numbers and continues it between them."""
    if count <= 0:
        return 1.0
    if count > n:
        return 0.0
    if dispersion <= 1.0:
        return float(bdtrc(count - 1, n, p0))
    c, m = count / dispersion, n / dispersion
    return float(betainc(c, m - c + 1, p0))


def exact_test(
    scope: str,
    metric: str,
    limit: float,
    n: int,
    count: int,
    level: float,
    dispersion: float = 1.0,
    dispersion_seconds: int = 0,
) -> ExactTest | None:
    """The test of one check, or None when it cannot be made (no requests, a limit or count that is
    not a finite number): a check that cannot be tested never aborts. ``dispersion``: φ of the
    scope's bad requests (1: independent), from ``dispersion_seconds`` per-second counts."""
    p0 = null_probability(metric, limit)
    if p0 is None or n <= 0 or count < 0 or not math.isfinite(level):
        return None
    phi = dispersion if math.isfinite(dispersion) and dispersion > 1.0 else 1.0
    return ExactTest(
        scope,
        metric,
        int(n),
        int(count),
        p0,
        p_value(int(count), int(n), p0, phi),
        level,
        dispersion=phi,
        dispersion_seconds=dispersion_seconds,
    )


# -- spreading the error budget over the looks -------------------------------------------------------


def looks(run_time_s: float | None, first_check_s: float, every_s: float) -> int | None:
    """How many windows a run can judge: one at ``first_check_s`` and one every ``every_s`` up to
    the run time. None when the run time is not known (the web UI, no --run-time)."""
    if run_time_s is None or not math.isfinite(run_time_s) or run_time_s <= 0:
        return None
    return max(1, math.floor(max(0.0, run_time_s - first_check_s) / every_s) + 1)


def look_level(alpha: float, look: int, total: int | None) -> float:
    """The share of ``alpha`` that look number ``look`` (1, 2, …) may spend.

    With the number of looks known, Bonferroni: alpha / total each (a look past the total, which
    a late stop can make, gets the same share: the overspend is a fraction of one look). With no
    end known, the looks are spent in doubling blocks: block j (looks 2^j … 2^(j+1) − 1) gets
    alpha / ((j + 1)(j + 2)), shared evenly, so the shares sum to alpha however long the run
    goes, and look k's share falls only like 1 / (k log² k)."""
    if total is not None:
        return alpha / total
    block = max(0, int(math.log2(max(1, look))))
    return alpha / ((block + 1) * (block + 2)) / float(2**block)

"""The band a Poisson arrival count may fall in, from exact Poisson quantiles (issue 16).

A correct Poisson generator asked for μ arrivals in a window makes a Poisson(μ) count; at low
rates that count is skewed (its upper tail is longer), so a ±kσ band misjudges it. Here each
window's band is [ppf(q/2), isf(q/2)] of Poisson(μ), with the run's error budget ``ALPHA``
spread over every window of every API judged in the run and each API's whole run (Bonferroni:
q = ALPHA / tests; decide/load.py judges the whole run as one window when every window passes), so a
correct generator fails at most ``ALPHA`` of runs whatever its rate and run length
(bench/calibration/load_band.py measures it). Pure: numbers in, counts out.
"""

from __future__ import annotations

import math
from functools import lru_cache

# The chance that a run whose Poisson generator is correct fails its load check.
ALPHA = 0.01


def window_level(windows: int, alpha: float = ALPHA) -> float:
    """The two-sided level one window may spend when the run judges ``windows`` windows."""
    return alpha / max(1, windows)


@lru_cache(maxsize=4096)  # a run's windows mostly ask the same count at the same level
def band(asked: float, level: float) -> tuple[float, float] | None:
    """(fewest, most) arrivals a correct Poisson generator asked for ``asked`` makes, except with
    probability ``level`` (half each side). None when ``asked`` or ``level`` is not a finite
    positive number: such a window is not judged on this band."""
    if not (math.isfinite(asked) and asked > 0 and math.isfinite(level) and 0 < level < 1):
        return None
    low = float(_ppf(level / 2, asked))  # P(count < low) < level / 2
    high = float(_isf(level / 2, asked))  # P(count > high) ≤ level / 2
    return low, high


# Poisson quantiles from scipy.special's exact CDF (pdtr) and survival function (pdtrc), as
# scipy.stats.poisson computes them, without importing scipy.stats (half a second at every start).
# pdtrik, the continuous inverse, gives the start; the integer steps make the answer exact.


def _ppf(q: float, mu: float) -> int:
    """Smallest k with P(X ≤ k) ≥ q."""
    from scipy.special import pdtr, pdtrik

    k = max(0, math.ceil(float(pdtrik(q, mu))))
    while k > 0 and pdtr(k - 1, mu) >= q:
        k -= 1
    while pdtr(k, mu) < q:
        k += 1
    return k


def _isf(q: float, mu: float) -> int:
    """Smallest k with P(X > k) ≤ q."""
    from scipy.special import pdtrc, pdtrik

    k = max(0, math.ceil(float(pdtrik(1 - q, mu))))
    while k > 0 and pdtrc(k - 1, mu) <= q:
        k -= 1
    while pdtrc(k, mu) > q:
        k += 1
    return k

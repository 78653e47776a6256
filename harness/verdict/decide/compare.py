"""A run against its baseline: per endpoint and API group, on p50, p95, p99 and success rate, a
confidence interval for the change and a decision against the practical minimum effect. Pure.

The interval is Welch's t-interval for the difference of two estimates whose standard errors
come from per-window values (``estimate.spread``): change ± t(df) · sqrt(se_run² + se_base²),
df by Welch–Satterthwaite from each side's windows − 1. Its level is Bonferroni-corrected over
every statistic compared, so ``false_positive_rate`` bounds the chance that a run with no real
change has ANY statistic called regressed (bench/README.md measures it with A/A runs).

    regressed     the whole interval lies beyond the minimum effect, the worse way
    improved      the whole interval lies beyond the minimum effect, the better way
    no change     the whole interval lies within ± the minimum effect
    inconclusive  anything else: too few requests for a spread, or an interval too wide to tell
"""

from __future__ import annotations

import importlib
import math
import threading
from typing import Any

from harness.verdict.decide.estimate import (
    MIN_REQUESTS_PER_RATE_WINDOW,
    MIN_WINDOWS,
    PERCENTILES,
    TAIL_PER_WINDOW,
)
from harness.verdict.model import COMPARED, Baseline, Comparison, Decision, Measurements, Stats
from harness.verdict.rules.thresholds import Regression, Thresholds

_UNITS = {"success_rate": "%"}
_WORDS = {"success_rate": "success rate"}


def preload() -> None:
    """Import scipy in the background: it takes 0.7 s of CPU, which overlaps the raw read (spent
    waiting for InfluxDB) instead of adding to the check's time (bench/README.md)."""
    threading.Thread(target=importlib.import_module, args=("scipy.special",), daemon=True).start()


def t_quantile(probability: float, df: float) -> float:
    """Student's t quantile (scipy), imported on first use: a check without a baseline never needs it."""
    from scipy.special import stdtrit

    return float(stdtrit(df, probability))


def regression_limit(thresholds: Thresholds, statistic: str, baseline: float | None) -> float | None:
    """The line a value must cross to count as a regression for this baseline value: baseline +
    minimum effect for latencies, baseline − minimum effect for the success rate."""
    if baseline is None:
        return None
    effect = thresholds.regression.min_effect(statistic, baseline)
    return baseline - effect if statistic == "success_rate" else baseline + effect


def scopes_in_both(measured: Measurements, baseline: Baseline) -> list[tuple[str, str, str, Stats, Stats]]:
    """(scope, api, endpoint, run's stats, baseline's stats) for every endpoint and API group
    with requests in both."""
    out: list[tuple[str, str, str, Stats, Stats]] = []
    now: Stats
    then: Stats
    for key in sorted(set(measured.endpoints) & set(baseline.endpoints)):
        now, then = measured.endpoints[key], baseline.endpoints[key]
        if now.requests and then.requests:
            out.append((key, now.api, key, now, then))
    for api in sorted(set(measured.apis) & set(baseline.apis)):
        now, then = measured.apis[api], baseline.apis[api]
        if now.requests and then.requests:
            out.append((f"api:{api}", api, "", now, then))
    return out


def compare(thresholds: Thresholds, measured: Measurements, baseline: Baseline) -> list[Comparison]:
    scopes = scopes_in_both(measured, baseline)
    tests = len(scopes) * len(COMPARED)
    if not tests:
        return []
    alpha = thresholds.regression.false_positive_rate / tests  # one-sided, per statistic
    return [_compare_one(thresholds.regression, alpha, scope, api, endpoint, statistic, now, then, baseline.label)
            for scope, api, endpoint, now, then in scopes for statistic in COMPARED]


def _compare_one(r: Regression, alpha: float, scope: str, api: str, endpoint: str, statistic: str,
                 now: Stats, then: Stats, label: str) -> Comparison:
    current, base = now.value(statistic), then.value(statistic)
    confidence = 1 - 2 * alpha
    words, unit = _WORDS.get(statistic, statistic), _UNITS.get(statistic, "ms")
    common: dict[str, Any] = dict(scope=scope, api=api, endpoint=endpoint, statistic=statistic, baseline=base, current=current,
                  confidence=confidence)
    if current is None or base is None:
        return Comparison(**common, change=None, change_percent=None, low=None, high=None,
                          min_effect=0.0, limit=None, decision="inconclusive",
                          reason=f"{scope}: {words} has no value in this run or in {label}: not compared")
    effect = r.min_effect(statistic, base)
    limit = base - effect if statistic == "success_rate" else base + effect
    change = current - base
    common.update(change=change, change_percent=100.0 * change / base if base else None, min_effect=effect,
                  limit=limit)
    head = f"{scope}: {words} {_num(base)} → {_num(current)} {unit} ({_signed(change)} {_unit_of_change(unit)})"
    mine, theirs = now.spread.get(statistic), then.spread.get(statistic)
    if mine is None or theirs is None:
        need = (MIN_WINDOWS * MIN_REQUESTS_PER_RATE_WINDOW if statistic == "success_rate"
                else math.ceil(MIN_WINDOWS * TAIL_PER_WINDOW / (1 - PERCENTILES[statistic] / 100.0) - 1e-9))
        return Comparison(**common, low=None, high=None, decision="inconclusive",
                          reason=f"{head}: too few requests for an interval ({now.requests} in this run, "
                                 f"{then.requests} in {label}; {need} needed)")
    se = math.hypot(mine.se, theirs.se)
    if se == 0:
        low = high = change
    else:
        df = se ** 4 / (mine.se ** 4 / (mine.windows - 1) + theirs.se ** 4 / (theirs.windows - 1))
        half = t_quantile(1 - alpha, df) * se
        low, high = change - half, change + half
    worse = -1.0 if statistic == "success_rate" else 1.0  # which way a change is a regression
    bounds = sorted((worse * low, worse * high))
    decision: Decision
    interval = (f"{level_text(confidence)} interval {_signed(low)} … {_signed(high)} {_unit_of_change(unit)}, minimum "
                f"effect {_num(effect)} {_unit_of_change(unit)}")
    if bounds[0] > effect:
        decision, why = "regressed", f"regressed against {label}"
    elif bounds[1] < -effect:
        decision, why = "improved", f"improved against {label}"
    elif -effect < bounds[0] and bounds[1] < effect:
        decision, why = "no change", f"no change against {label}"
    else:
        decision, why = "inconclusive", f"the interval is too wide to tell against {label}"
    return Comparison(**common, low=low, high=high, decision=decision, reason=f"{head}, {interval}: {why}")


def level_text(confidence: float) -> str:
    """"99.77 %": the interval's confidence level as the project writes per cents."""
    return f"{confidence * 100:.2f} %"


def change_text(c: Comparison) -> str:
    """"+17.7 ms (+519 %)", "−0.5 pt"; "—" when there is no change to show."""
    if c.change is None:
        return "—"
    unit = _unit_of_change(_UNITS.get(c.statistic, "ms"))
    relative = f" ({_signed(c.change_percent)} %)" if c.change_percent is not None and unit == "ms" else ""
    return f"{_signed(c.change)} {unit}{relative}"


def interval_text(c: Comparison) -> str:
    """"+16.2 … +19.1 ms"; "—" without an interval."""
    if c.low is None or c.high is None:
        return "—"
    return f"{_signed(c.low)} … {_signed(c.high)} {_unit_of_change(_UNITS.get(c.statistic, 'ms'))}"


def value_text(value: float | None, statistic: str) -> str:
    return "—" if value is None else f"{_num(value)} {_UNITS.get(statistic, 'ms')}"


def _unit_of_change(unit: str) -> str:
    return "pt" if unit == "%" else unit


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "−") + _num(abs(value))


def _num(value: float) -> str:
    """Three significant digits at least, no trailing zeros: 3.41, 21.1, 0.052, 1250."""
    places = max(1, 2 - int(math.floor(math.log10(abs(value))))) if value else 1
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

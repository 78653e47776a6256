"""A run against its baseline: per endpoint and API group, on p50, p95, p99 and success rate, a
confidence interval for the change and a decision against the practical minimum effect. Pure.

The run is the unit (``run_unit.py``): the change's spread holds run-to-run variation, from the
baseline runs' own spread (3 or more runs: a prediction interval) or a floor
(``regression.run_to_run_percent``) with fewer, plus this run's within-run error (``estimate.spread``).
Each statistic with an interval is a one-sided test of "no regression beyond the minimum effect";
Holm's step-down over those tests (``holm.py``; statistics without an interval are not counted) keeps
``false_positive_rate`` the chance that a run with no real change has ANY statistic called regressed.
The interval is drawn at the level the statistic was tested at (bench/README.md measures all of it).

    regressed     the whole interval lies beyond the minimum effect, the worse way
    improved      the whole interval lies beyond the minimum effect, the better way
    no change     the whole interval lies within ± the minimum effect
    inconclusive  anything else: too few requests or no finite spread for an interval, or an interval
                  too wide to tell
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
from harness.verdict.decide.holm import holm_levels
from harness.verdict.decide.run_unit import MIN_RUNS_FOR_SPREAD, TOO_FEW, Contrast, contrast
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
    from scipy.special import ndtri, stdtrit

    return float(ndtri(probability)) if math.isinf(df) else float(stdtrit(df, probability))


def t_upper_tail(x: float, df: float) -> float:
    """P(T > x) for Student's t with ``df`` degrees of freedom (normal when df is infinite)."""
    from scipy.special import ndtr, stdtr

    return float(ndtr(-x)) if math.isinf(df) else float(stdtr(df, -x))


def regression_limit(thresholds: Thresholds, statistic: str, baseline: float | None) -> float | None:
    """The line a value must cross to count as a regression for this baseline value: baseline +
    minimum effect for latencies, baseline − minimum effect for the success rate."""
    if baseline is None:
        return None
    effect = thresholds.regression.min_effect(statistic, baseline)
    return baseline - effect if statistic == "success_rate" else baseline + effect


def scopes_in_both(
    measured: Measurements, baseline: Baseline
) -> list[tuple[str, str, str, Stats, list[Stats]]]:
    """(scope, api, endpoint, run's stats, each baseline run's stats) for every endpoint and API group
    with requests in this run and in every baseline run."""
    out: list[tuple[str, str, str, Stats, list[Stats]]] = []
    now: Stats
    wanted = len(baseline.runs) or 1
    for key in sorted(set(measured.endpoints) & set(baseline.endpoints)):
        now, then = measured.endpoints[key], baseline.scope_runs(key, "")
        if now.requests and len(then) == wanted and all(s.requests for s in then):
            out.append((key, now.api, key, now, then))
    for api in sorted(set(measured.apis) & set(baseline.apis)):
        now, then = measured.apis[api], baseline.scope_runs("", api)
        if now.requests and len(then) == wanted and all(s.requests for s in then):
            out.append((f"api:{api}", api, "", now, then))
    return out


def compare(thresholds: Thresholds, measured: Measurements, baseline: Baseline) -> list[Comparison]:
    r = thresholds.regression
    tests = [
        (scope, api, endpoint, statistic, now, then, contrast(statistic, now, then, r.run_to_run_percent))
        for scope, api, endpoint, now, then in scopes_in_both(measured, baseline)
        for statistic in COMPARED
    ]
    judged = [i for i, t in enumerate(tests) if t[-1].sd is not None]
    p_values = {i: _p_value(r, tests[i][3], tests[i][-1]) for i in judged}
    levels = dict(zip(judged, holm_levels([p_values[i] for i in judged], r.false_positive_rate)))
    return [_compare_one(r, levels.get(i), p_values.get(i), *t, baseline.label) for i, t in enumerate(tests)]


def _p_value(r: Regression, statistic: str, c: Contrast) -> float:
    """One-sided p-value of "the change is no worse than the minimum effect"."""
    worse = -1.0 if statistic == "success_rate" else 1.0
    assert (
        c.change is not None and c.center is not None and c.sd is not None
    )  # only contrasts with an interval
    return t_upper_tail((worse * c.change - r.min_effect(statistic, c.center)) / c.sd, c.df)


def _compare_one(
    r: Regression,
    alpha: float | None,
    p_value: float | None,
    scope: str,
    api: str,
    endpoint: str,
    statistic: str,
    now: Stats,
    then: list[Stats],
    c: Contrast,
    label: str,
) -> Comparison:
    current, base = c.current, c.center
    words, unit = _WORDS.get(statistic, statistic), _UNITS.get(statistic, "ms")
    common: dict[str, Any] = dict(
        scope=scope,
        api=api,
        endpoint=endpoint,
        statistic=statistic,
        baseline=base,
        current=current,
        runs=c.runs,
        run_to_run_percent=c.floor_percent,
        p_value=p_value,
        confidence=1 - 2 * alpha if alpha is not None else math.nan,
    )
    if current is None or base is None or not (math.isfinite(current) and math.isfinite(base)):
        return Comparison(
            **common,
            change=None,
            change_percent=None,
            low=None,
            high=None,
            min_effect=0.0,
            limit=None,
            decision="inconclusive",
            reason=f"{scope}: {words} {c.why_not}: not compared",
        )
    effect = r.min_effect(statistic, base)
    limit = base - effect if statistic == "success_rate" else base + effect
    change = current - base
    common.update(
        change=change, change_percent=100.0 * change / base if base else None, min_effect=effect, limit=limit
    )
    head = (
        f"{scope}: {words} {_num(base)} → {_num(current)} {unit} ({_signed(change)} {_unit_of_change(unit)})"
    )
    if c.sd is None:
        if c.why_not == TOO_FEW:
            need = (
                MIN_WINDOWS * MIN_REQUESTS_PER_RATE_WINDOW
                if statistic == "success_rate"
                else math.ceil(MIN_WINDOWS * TAIL_PER_WINDOW / (1 - PERCENTILES[statistic] / 100.0) - 1e-9)
            )
            fewest = min(s.requests for s in then)
            why = (
                f"too few requests for an interval ({now.requests} in this run, {fewest} in {label}; "
                f"{need} needed)"
            )
        else:
            why = f"{c.why_not}: not decided"
        return Comparison(**common, low=None, high=None, decision="inconclusive", reason=f"{head}: {why}")
    assert alpha is not None  # every contrast with an interval has its Holm level
    half = t_quantile(1 - alpha, c.df) * c.sd
    low, high = change - half, change + half
    worse = -1.0 if statistic == "success_rate" else 1.0  # which way a change is a regression
    bounds = sorted((worse * low, worse * high))
    decision: Decision
    interval = (
        f"{level_text(1 - 2 * alpha)} interval {_signed(low)} … {_signed(high)} {_unit_of_change(unit)}, "
        f"minimum effect {_num(effect)} {_unit_of_change(unit)}, {basis_text(c.runs, c.floor_percent)}"
    )
    if bounds[0] > effect:
        decision, why = "regressed", f"regressed against {label}"
    elif bounds[1] < -effect:
        decision, why = "improved", f"improved against {label}"
    elif -effect < bounds[0] and bounds[1] < effect:
        decision, why = "no change", f"no change against {label}"
    elif worse * change > effect and c.floor_percent is not None:
        decision, why = (
            "inconclusive",
            (
                f"beyond the minimum effect, but {_few(c.runs)} cannot tell it from "
                f"run-to-run variation: compare with --baseline last-5-pass"
            ),
        )
    else:
        decision, why = "inconclusive", f"the interval is too wide to tell against {label}"
    return Comparison(**common, low=low, high=high, decision=decision, reason=f"{head}, {interval}: {why}")


def needs_more_runs(c: Comparison) -> bool:
    """An inconclusive comparison that moved beyond the minimum effect, undecided only because too few
    baseline runs were given to tell it from run-to-run variation: more baseline runs may decide it."""
    worse = -1.0 if c.statistic == "success_rate" else 1.0
    return (
        c.decision == "inconclusive"
        and c.low is not None
        and c.run_to_run_percent is not None
        and c.change is not None
        and worse * c.change > c.min_effect
    )


def hint_text(comparisons: list[Comparison]) -> str | None:
    """The one-line hint for comparisons fewer baseline runs could not decide; None when there are none."""
    unsure = [c for c in comparisons if needs_more_runs(c)]
    if not unsure:
        return None
    shown = ", ".join(
        f"{c.scope} {_WORDS.get(c.statistic, c.statistic)} {change_text(c)}" for c in unsure[:3]
    )
    more = ", …" if len(unsure) > 3 else ""
    floor = unsure[0].run_to_run_percent or 0.0  # set on every comparison needs_more_runs keeps
    return (
        f"{shown}{more}: beyond the minimum effect, but {_few(unsure[0].runs)} cannot tell "
        f"{'this' if len(unsure) == 1 else 'these'} from run-to-run variation (assumed "
        f"{_num(floor)} %): compare with --baseline last-5-pass"
    )


def basis_text(runs: int, floor_percent: float | None) -> str:
    """What the interval's run-to-run part came from, in a few words."""
    if floor_percent is None:
        return f"run-to-run spread of {runs} baseline runs"
    return f"run-to-run floor {_num(floor_percent)} % ({_few(runs)})"


def _few(runs: int) -> str:
    return "one baseline run" if runs == 1 else f"{runs} baseline runs"


def levels_text(comparisons: list[Comparison]) -> str:
    """ "99.77 %" or "99.6–99.9 %": the levels the intervals were drawn at (Holm: one per test)."""
    levels = sorted({round(c.confidence, 6) for c in comparisons if c.low is not None})
    if not levels:
        return "—"
    if len(levels) == 1:
        return level_text(levels[0])
    return f"{level_text(levels[0])[:-2]}–{level_text(levels[-1])}"


def run_unit_text(comparisons: list[Comparison], regression: Regression) -> str:
    """One sentence: the unit of comparison and what its run-to-run variation came from."""
    judged = sum(c.low is not None for c in comparisons)
    runs = max((c.runs for c in comparisons), default=0)
    if runs >= MIN_RUNS_FOR_SPREAD:
        source = (
            f"the run-to-run spread of the {runs} baseline runs (a prediction interval for a new run) plus "
            f"this run's own error"
        )
    else:
        source = (
            f"an assumed run-to-run variation of {_num(regression.run_to_run_percent)} % "
            f"(regression.run_to_run_percent; {_few(max(runs, 1))} cannot measure it) plus each run's own "
            f"error"
        )
    return (
        f"The run is the unit: intervals hold {source}; Holm over the {judged} statistics with an interval "
        f"keeps the chance of a false regression at {_num(100 * regression.false_positive_rate)} %."
    )


def level_text(confidence: float) -> str:
    """ "99.77 %": the interval's confidence level as the project writes per cents."""
    return f"{confidence * 100:.2f} %"


def change_text(c: Comparison) -> str:
    """ "+17.7 ms (+519 %)", "−0.5 pt"; "—" when there is no change to show."""
    if c.change is None:
        return "—"
    unit = _unit_of_change(_UNITS.get(c.statistic, "ms"))
    relative = f" ({_signed(c.change_percent)} %)" if c.change_percent is not None and unit == "ms" else ""
    return f"{_signed(c.change)} {unit}{relative}"


def interval_text(c: Comparison) -> str:
    """ "+16.2 … +19.1 ms"; "—" without an interval."""
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
    if not math.isfinite(value):
        return str(value)
    places = max(1, 2 - int(math.floor(math.log10(abs(value))))) if value else 1
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

"""An abort: the live checks' decision to stop a run early, and what the verdict makes of it (the
pure part; reading the stored abort is reads/abort.py, its text and JSON outputs/abort.py).

The live checks read the stored points of a trailing window while the run goes on; points of
requests still in flight are not there yet. So after the run the checker reads the same window
again from the complete stored points and judges it with the same limits: the abort is
*confirmed* when a check that stopped the run still fails there. A confirmed abort of a target
limit is a FAIL; one the complete data does not confirm can never pass (the run was cut short)
and is said to be unconfirmed, and an abort on the load generator's own CPU is INCONCLUSIVE.
"""

from __future__ import annotations

from harness.verdict.decide.evaluate import evaluate
from harness.verdict.decide.window import window_checks
from harness.verdict.model import (CPU, AbortOutcome, AbortRecord, Breach, Check, Measurements, Verdict, WindowFigures,
                                   count_text)
from harness.verdict.rules.thresholds import Thresholds

def decide(thresholds: Thresholds, checks: tuple[str, ...], figures: WindowFigures, test_start_ns: int,
           now_ns: int) -> AbortRecord | None:
    """The live decision for one window: an AbortRecord when a check fails, else None."""
    failed = [c for c in window_checks(thresholds, checks, figures) if c.passed is False]
    if not failed:
        return None
    # API groups first: "api:payments" tells a reader more than one of its endpoints.
    target = sorted((c for c in failed if c.metric != CPU), key=lambda c: not c.scope.startswith("api:"))
    breaches = tuple(Breach(c.scope, c.metric, c.threshold, c.observed, figures.requests(c.scope), c.message)
                     for c in target + [c for c in failed if c.metric == CPU])
    return AbortRecord(at_s=(now_ns - test_start_ns) / 1e9, time_ns=now_ns,
                       kind="fail" if target else "inconclusive", start_ns=figures.start_ns,
                       end_ns=figures.end_ns, breaches=breaches)


def evaluate_run(thresholds: Thresholds, measured: Measurements, baseline: Measurements | None = None) -> Verdict:
    """``evaluate``, and for a run the live checks stopped, once more with its abort judged on the
    complete points: the abort check goes first, and its outcome takes part in the precedence."""
    verdict = evaluate(thresholds, measured, baseline)
    outcome = judge_abort(thresholds, measured, verdict.checks)
    return verdict if outcome is None else evaluate(thresholds, measured, baseline, abort=outcome)


def judge_abort(thresholds: Thresholds, measured: Measurements, run_checks: list[Check]) -> AbortOutcome | None:
    """The abort as a check of the verdict (pure: the window was read by ``read_abort``)."""
    record = measured.abort
    if record is None:
        return None
    keys = [(b.scope, b.metric) for b in record.breaches]
    exact_all = {} if record.exact is None else {
        (c.scope, c.metric): c for c in window_checks(thresholds, tuple(m for _, m in keys), record.exact)}
    exact = tuple(exact_all[k] for k in keys if k in exact_all)
    whole = {(c.scope, c.metric): c for c in run_checks if c.kind == "absolute"}
    whole_run = tuple(whole[k] for k in keys if k in whole)
    # A target limit's abort is confirmed only by a target limit, never by the CPU beside it.
    deciding = [k for k in keys if k[1] != CPU] or keys
    confirmed_keys = [k for k in deciding if k in exact_all and exact_all[k].passed is False]
    lead = f"aborted at t={record.at_s:.0f}s: "
    if confirmed_keys:
        key = confirmed_keys[0]
        first = exact_all[key]
        message = (f"{lead}{first.message} over {record.window_text()} "
                   f"({count_text(key[1], record.exact.requests(first.scope))})")
        threshold, observed = first.threshold, first.observed
        if record.kind == "inconclusive":
            message += ": the load generator, not the target, was at its limit, so the run cannot be judged"
    else:
        key, breach = keys[0], record.breaches[0]
        seen = exact_all.get(key)
        again = (f"the complete stored points of that window give {seen.message.split(': ', 1)[-1]}"
                 if seen is not None else "the complete stored points of that window no longer show it")
        message = (f"{lead}{breach.message} over {record.window_text()} as the live check saw it, but "
                   f"{again}: the abort is not confirmed")
        threshold, observed = breach.threshold, seen.observed if seen is not None else None
    if key in whole:
        message += f"; over the whole judged run: {whole[key].message}"
    passed = False if confirmed_keys and record.kind == "fail" else None
    check = Check("run", "abort", threshold, observed, passed, "absolute" if passed is False else "data", message)
    return AbortOutcome(record, bool(confirmed_keys), exact, whole_run, check)



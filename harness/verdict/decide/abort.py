"""An abort: the live checks' decision to stop a run early, and what the verdict makes of it (the
pure part; reading the stored abort is reads/abort.py, its text and JSON outputs/abort.py).

The live checks read the stored points of a trailing window while the run goes on. A success
rate or percentile limit stops the run only when an exact one-sided binomial test rejects "the
limit holds" at the share of ``abort.alpha`` this look and this check may spend
(``sequential.py``), and still rejects on effective counts once the per-second counts show how
bursty its bad requests are (``dispersion.py``; the live checks read those counts only for a
window the plain test rejects, and decide again); max, rps and the load generator's CPU are judged
on the window's value.

After the run the checker confirms the abort on data that did not trigger it: the judged run's
stored points *outside* the triggering window (before it and after it), tested exactly at
``abort.alpha``. A confirmed abort of a target limit is a FAIL; one that is not confirmed can
never pass (the run was cut short) and is said to be unconfirmed; an abort on the load
generator's own CPU is INCONCLUSIVE. Checks that are not tested exactly (max, rps, cpu) are
confirmed as before: on the complete stored points of their window.
"""

from __future__ import annotations

from harness.verdict.decide.dispersion import dispersion
from harness.verdict.decide.evaluate import evaluate
from harness.verdict.decide.sequential import TESTED, exact_test, look_level
from harness.verdict.decide.window import window_checks
from harness.verdict.model import (
    CPU,
    AbortOutcome,
    AbortRecord,
    Baseline,
    Breach,
    Check,
    ExactTest,
    Measurements,
    SecondsKey,
    Verdict,
    WindowFigures,
    count_text,
    seconds_key,
)
from harness.verdict.rules.thresholds import Thresholds

# What an abort of a tested check is confirmed on, in verdict.json and the reasons.
CONFIRMED_ON = "the judged run's points outside the window that triggered it"


def decide(
    thresholds: Thresholds,
    checks: tuple[str, ...],
    figures: WindowFigures,
    test_start_ns: int,
    now_ns: int,
    look: int = 1,
    looks: int | None = None,
) -> AbortRecord | None:
    """The live decision for one window, look number ``look`` of at most ``looks``: an AbortRecord
    when a check fails, else None. A success rate or percentile fails only when its exact test
    rejects at this look's share of ``abort.alpha``, split evenly over the checks judged here."""
    alpha = thresholds.abort.alpha
    judged = window_checks(thresholds, checks, figures)
    tested = [c for c in judged if c.metric in TESTED and c.passed is not None]
    level = look_level(alpha, look, looks) / max(1, len(tested))
    failed: list[tuple[Check, ExactTest | None]] = []
    for c in judged:
        if c.passed is not False:
            continue
        if c.metric not in TESTED:
            failed.append((c, None))
            continue
        test = _window_test(figures, c, level)
        if test is not None and test.rejected:
            failed.append((c, test))
    if not failed:
        return None
    # API groups first: "api:payments" tells a reader more than one of its endpoints.
    target = sorted(
        (f for f in failed if f[0].metric != CPU), key=lambda f: not f[0].scope.startswith("api:")
    )
    breaches = tuple(
        Breach(
            c.scope,
            c.metric,
            c.threshold,
            c.observed,
            figures.requests(c.scope),
            c.message if t is None else f"{c.message} ({t.text()})",
            None if t is None else t.as_dict(),
        )
        for c, t in target + [f for f in failed if f[0].metric == CPU]
    )
    return AbortRecord(
        at_s=(now_ns - test_start_ns) / 1e9,
        time_ns=now_ns,
        kind="fail" if target else "inconclusive",
        start_ns=figures.start_ns,
        end_ns=figures.end_ns,
        breaches=breaches,
        look=look,
        looks=looks,
        alpha=alpha,
    )


def _window_test(figures: WindowFigures, c: Check, level: float) -> ExactTest | None:
    """The exact test of a check over the window; when it rejects and the window's per-second
    counts were read, the test again with their dispersion (bursts: decide/dispersion.py)."""
    bad = figures.bad(c.scope, c.metric, c.threshold)
    if bad is None:
        return None
    n = figures.requests(c.scope)
    test = exact_test(c.scope, c.metric, c.threshold, n, bad, level)
    seconds = figures.per_second(c.scope, c.metric, c.threshold)
    if test is None or not test.rejected or seconds is None:
        return test
    return exact_test(c.scope, c.metric, c.threshold, n, bad, level, dispersion(seconds), len(seconds))


def unread_seconds(record: AbortRecord | None, figures: WindowFigures) -> tuple[SecondsKey, ...]:
    """The per-second counts a live abort still needs before it stands: those of its tested
    breaches (their plain exact test rejected) that ``figures`` lacks. The live checks read them
    and decide again, so a healthy window costs no extra query."""
    if record is None:
        return ()
    keys = (seconds_key(b.scope, b.metric, b.threshold) for b in record.breaches if b.metric in TESTED)
    return tuple(dict.fromkeys(k for k in keys if k not in figures.seconds))


def evaluate_run(
    thresholds: Thresholds, measured: Measurements, baseline: Baseline | Measurements | None = None
) -> Verdict:
    """``evaluate``, and for a run the live checks stopped, once more with its abort judged on the
    complete points: the abort check goes first, and its outcome takes part in the precedence."""
    verdict = evaluate(thresholds, measured, baseline)
    outcome = judge_abort(thresholds, measured, verdict.checks)
    return verdict if outcome is None else evaluate(thresholds, measured, baseline, abort=outcome)


def judge_abort(
    thresholds: Thresholds, measured: Measurements, run_checks: list[Check]
) -> AbortOutcome | None:
    """The abort as a check of the verdict (pure: the window and the run's counts were read by
    ``read_abort``)."""
    record = measured.abort
    if record is None:
        return None
    keys = [(b.scope, b.metric) for b in record.breaches]
    exact_all = (
        {}
        if record.exact is None
        else {
            (c.scope, c.metric): c for c in window_checks(thresholds, tuple(m for _, m in keys), record.exact)
        }
    )
    exact = tuple(exact_all[k] for k in keys if k in exact_all)
    whole = {(c.scope, c.metric): c for c in run_checks if c.kind == "absolute"}
    whole_run = tuple(whole[k] for k in keys if k in whole)
    # A target limit's abort is confirmed only by a target limit, never by the CPU beside it.
    deciding = [b for b in record.breaches if b.metric != CPU] or list(record.breaches)
    tested = [b for b in deciding if b.metric in TESTED]
    tests = {
        (b.scope, b.metric): _confirmation(record, measured, b, record.alpha / len(tested)) for b in tested
    }
    confirmation = tuple(t for t in tests.values() if t is not None)
    confirmed = [
        b
        for b in deciding
        if (
            (found := tests[(b.scope, b.metric)]) is not None and found.rejected
            if b.metric in TESTED
            else (b.scope, b.metric) in exact_all and exact_all[(b.scope, b.metric)].passed is False
        )
    ]
    lead = f"aborted at t={record.at_s:.0f}s: "
    breach = confirmed[0] if confirmed else deciding[0]
    key = (breach.scope, breach.metric)
    seen = exact_all.get(key)
    test = tests.get(key)
    if breach.metric in TESTED:
        outside = (
            f"the {test.n} requests of the judged run outside that window: {test.text()}"
            if test is not None
            else "the judged run's points outside that window could not be counted"
        )
        if confirmed:
            message = f"{lead}{breach.message} over {record.window_text()}; confirmed on {outside}"
        else:
            message = (
                f"{lead}{breach.message} over {record.window_text()} as the live check saw it, but it is "
                f"not confirmed on {outside}: the abort is not confirmed"
            )
        threshold, observed = breach.threshold, breach.observed
    elif confirmed:
        assert seen is not None and record.exact is not None  # confirmed on the exact window's check
        message = (
            f"{lead}{seen.message} over {record.window_text()} "
            f"({count_text(key[1], record.exact.requests(seen.scope))})"
        )
        threshold, observed = seen.threshold, seen.observed
    else:
        again = (
            f"the complete stored points of that window give {seen.message.split(': ', 1)[-1]}"
            if seen is not None
            else "the complete stored points of that window no longer show it"
        )
        message = (
            f"{lead}{breach.message} over {record.window_text()} as the live check saw it, but "
            f"{again}: the abort is not confirmed"
        )
        threshold, observed = breach.threshold, seen.observed if seen is not None else None
    if confirmed and record.kind == "inconclusive":
        message += ": the load generator, not the target, was at its limit, so the run cannot be judged"
    if key in whole:
        message += f"; over the whole judged run: {whole[key].message}"
    passed = False if confirmed and record.kind == "fail" else None
    check = Check(
        "run", "abort", threshold, observed, passed, "absolute" if passed is False else "data", message
    )
    return AbortOutcome(record, bool(confirmed), exact, whole_run, check, confirmation)


def _confirmation(
    record: AbortRecord, measured: Measurements, breach: Breach, level: float
) -> ExactTest | None:
    """The exact test of one breach on the judged run's points outside its window: the run's
    counts minus the window's (counts add up; InfluxQL cannot select two time ranges at once)."""
    window = record.exact
    if window is not None:
        n_w, bad_w = window.requests(breach.scope), window.bad(breach.scope, breach.metric, breach.threshold)
    elif breach.test is not None:  # the window could not be re-read: the live counts
        n_w, bad_w = int(breach.test["n"]), int(breach.test["count"])
    else:
        return None
    run = record.judged
    if run is not None:
        n_r, bad_r = run.requests(breach.scope), run.bad(breach.scope, breach.metric, breach.threshold)
    elif breach.metric == "success_rate":  # no judged-run read: the verdict's own counts
        stats = (
            measured.apis.get(breach.scope[4:])
            if breach.scope.startswith("api:")
            else measured.endpoints.get(breach.scope)
        )
        n_r, bad_r = (stats.requests, stats.failures) if stats is not None else (0, 0)
    else:
        return None
    if bad_w is None or bad_r is None:
        return None
    n, bad = max(0, n_r - n_w), max(0, bad_r - bad_w)
    return exact_test(breach.scope, breach.metric, breach.threshold, n, min(bad, n), level)

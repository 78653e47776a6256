"""An abort: the live checks' decision to stop a run early, kept as an ``events`` point of type
``abort``, and what the verdict makes of it.

The live checks read the stored points of a trailing window while the run goes on. A success
rate or percentile limit stops the run only when an exact one-sided binomial test rejects "the
limit holds" at the share of ``abort.alpha`` this look and this check may spend
(``sequential.py``); max, rps and the load generator's CPU are judged on the window's value.

After the run the checker confirms the abort on data that did not trigger it: the judged run's
stored points *outside* the triggering window (before and after it), tested exactly at
``abort.alpha``. A confirmed abort of a target limit is a FAIL; one that is not confirmed can
never pass (the run was cut short) and is said to be unconfirmed; an abort on the load
generator's own CPU is INCONCLUSIVE. Checks that are not tested exactly (max, rps, cpu) are
confirmed as before: on the complete stored points of their window.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_ident, quote_string
from harness.influx.lineprotocol import make_line
from harness.verdict.abort_rule import CPU
from harness.verdict.evaluate import evaluate
from harness.verdict.model import Check, Measurements, Verdict
from harness.verdict.sequential import TESTED, ExactTest, exact_test, look_level
from harness.verdict.thresholds import Thresholds
from harness.verdict.window import WindowFigures, latency_limits, measure_window, window_checks

# What an abort of a tested check is confirmed on, in verdict.json and the reasons.
CONFIRMED_ON = "the judged run's points outside the window that triggered it"

AbortKind = Literal["fail", "inconclusive"]


@dataclass(frozen=True)
class Breach:
    """A check that failed over the window, as the live check saw it."""

    scope: str
    metric: str
    threshold: float
    observed: float | None
    requests: int  # requests of the scope in the window (CPU samples for a worker)
    message: str
    test: dict | None = None  # ExactTest.as_dict() for success_rate and pXX; None for max, rps, cpu


@dataclass(frozen=True)
class AbortRecord:
    at_s: float  # seconds from the test's start to the decision
    time_ns: int  # when it was decided
    kind: AbortKind  # "fail": a limit of the target; "inconclusive": the load generator's CPU
    start_ns: int  # the window that was judged
    end_ns: int
    breaches: tuple[Breach, ...]  # target limits first
    exact: WindowFigures | None = None  # the same window, re-read from the complete stored points
    judged: WindowFigures | None = None  # counts over the whole judged run (for the confirmation)
    look: int = 1  # which look of the run decided (1 = the first window judged)
    looks: int | None = None  # the looks the run could make (None: no run time, so no end known)
    alpha: float = 0.01  # abort.alpha in force

    @property
    def test_start_ns(self) -> int:
        return self.time_ns - int(self.at_s * 1e9)

    def window_text(self) -> str:
        """``t=9–29 s``: the window in seconds from the test's start, as people read a run."""
        start = (self.start_ns - self.test_start_ns) / 1e9
        end = (self.end_ns - self.test_start_ns) / 1e9
        return f"the {(self.end_ns - self.start_ns) / 1e9:.0f} s window t={start:.0f}–{end:.0f} s"

    def text(self) -> str:
        first = self.breaches[0]
        more = f" (and {len(self.breaches) - 1} more)" if len(self.breaches) > 1 else ""
        # A tested check's message already says its count of requests ("12 of 24 failed, p = …").
        count = "" if first.test else f" ({_count(first.metric, first.requests)})"
        return f"aborted at t={self.at_s:.0f}s: {first.message} over {self.window_text()}{count}{more}"


def decide(thresholds: Thresholds, checks: tuple[str, ...], figures: WindowFigures, test_start_ns: int,
           now_ns: int, look: int = 1, looks: int | None = None) -> AbortRecord | None:
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
    target = sorted((f for f in failed if f[0].metric != CPU), key=lambda f: not f[0].scope.startswith("api:"))
    breaches = tuple(Breach(c.scope, c.metric, c.threshold, c.observed, figures.requests(c.scope),
                            c.message if t is None else f"{c.message} ({t.text()})",
                            None if t is None else t.as_dict())
                     for c, t in target + [f for f in failed if f[0].metric == CPU])
    return AbortRecord(at_s=(now_ns - test_start_ns) / 1e9, time_ns=now_ns,
                       kind="fail" if target else "inconclusive", start_ns=figures.start_ns,
                       end_ns=figures.end_ns, breaches=breaches, look=look, looks=looks, alpha=alpha)


def _window_test(figures: WindowFigures, c: Check, level: float) -> ExactTest | None:
    bad = figures.bad(c.scope, c.metric, c.threshold)
    return None if bad is None else exact_test(c.scope, c.metric, c.threshold, figures.requests(c.scope), bad, level)


# -- stored as an events point ----------------------------------------------------------------
def event_line(run_id: str, test_env: str, record: AbortRecord) -> str:
    """The annotation Grafana draws (title, text, tags) plus what the checker needs to judge the
    window again."""
    first = record.breaches[0]
    title = "Run aborted" if record.kind == "fail" else "Run aborted (load generator)"
    return make_line("events", {"run_id": run_id, "test_env": test_env, "type": "abort"},
                     {"title": title, "text": record.text(), "tags": f"abort,{test_env}",
                      "at_s": float(record.at_s), "kind": record.kind, "check": f"{first.scope} {first.metric}",
                      "window_start": int(record.start_ns), "window_end": int(record.end_ns),
                      "breaches": json.dumps([asdict(b) for b in record.breaches]),
                      "look": int(record.look), "looks": int(record.looks or 0), "alpha": float(record.alpha)},
                     record.time_ns)


def _abort_events(client: InfluxClient, run_id: str, runs_rp: str, columns: str) -> list[dict]:
    source = f'{quote_ident(runs_rp)}."events"' if runs_rp else '"events"'
    return client.query(f'SELECT {columns} FROM {source} WHERE "run_id" = {quote_string(run_id)} '
                        f'AND "type" = \'abort\' LIMIT 1')


def was_aborted(client: InfluxClient, run_id: str, runs_rp: str) -> bool:
    return bool(_abort_events(client, run_id, runs_rp, '"kind"'))


def read_abort(client: InfluxClient, run_id: str, runs_rp: str, thresholds: Thresholds | None = None,
               judged_ns: tuple[int, int] | None = None) -> AbortRecord | None:
    """The run's abort, with its window read again from the stored points and the counts of the
    judged run ``judged_ns`` (for the confirmation); None if it ran its course."""
    series = _abort_events(client, run_id, runs_rp, '"at_s", "kind", "window_start", "window_end", "breaches", '
                                                    '"test_env", "look", "looks", "alpha"')
    if not series or not series[0]["values"]:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0]))
    try:
        breaches = tuple(Breach(**b) for b in json.loads(row["breaches"]))
        record = AbortRecord(at_s=float(row["at_s"]), time_ns=int(row["time"]), kind=row["kind"],
                             start_ns=int(row["window_start"]), end_ns=int(row["window_end"]), breaches=breaches,
                             look=int(row.get("look") or 1), looks=int(row.get("looks") or 0) or None,
                             alpha=float(row["alpha"]) if row.get("alpha") is not None else 0.01)
        if not breaches or record.kind not in ("fail", "inconclusive"):
            raise ValueError("no failed check in it")
    except (TypeError, ValueError) as exc:
        # Never judged as if it ran its course: an aborted run that passed would be a lie.
        raise HarnessError(f"run {run_id!r} has an abort event that cannot be read ({exc}); it was stopped "
                           f"early and cannot be judged") from None
    checks = tuple(dict.fromkeys(b.metric for b in breaches))
    limits = tuple(sorted({float(b.threshold) for b in breaches if b.metric in TESTED and b.metric != "success_rate"}))
    if thresholds is not None:
        limits = tuple(sorted(set(limits) | set(latency_limits(thresholds, checks))))
    test_env = row.get("test_env") or ""
    exact = measure_window(client, run_id, record.start_ns, record.end_ns, checks, test_env, limits)
    judged = None
    if judged_ns is not None:
        # Counts only (no percentile pass over the whole run): requests, failures, slow requests.
        judged = measure_window(client, run_id, judged_ns[0], judged_ns[1], ("success_rate",), test_env, limits)
    return replace(record, exact=exact, judged=judged)


# -- in the verdict ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AbortOutcome:
    record: AbortRecord
    confirmed: bool  # a check that stopped the run is confirmed on data that did not trigger it
    exact: tuple[Check, ...]  # the stopping checks, judged on the complete points of the window
    whole_run: tuple[Check, ...]  # the same scopes and metrics over the whole judged run
    check: Check  # the "run / abort" check the verdict carries
    # The exact tests on the judged run's points outside the triggering window, per tested breach.
    confirmation: tuple[ExactTest, ...] = ()


def evaluate_run(thresholds: Thresholds, measured: Measurements, baseline: Measurements | None = None) -> Verdict:
    """``evaluate``, and for a run the live checks stopped, once more with its abort judged on the
    complete points: the abort check goes first, and its outcome takes part in the precedence."""
    verdict = evaluate(thresholds, measured, baseline)
    outcome = judge_abort(thresholds, measured, verdict.checks)
    return verdict if outcome is None else evaluate(thresholds, measured, baseline, abort=outcome)


def judge_abort(thresholds: Thresholds, measured: Measurements, run_checks: list[Check]) -> AbortOutcome | None:
    """The abort as a check of the verdict (pure: the window and the run's counts were read by
    ``read_abort``)."""
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
    deciding = [b for b in record.breaches if b.metric != CPU] or list(record.breaches)
    tested = [b for b in deciding if b.metric in TESTED]
    tests = {(b.scope, b.metric): _confirmation(record, measured, b, record.alpha / len(tested)) for b in tested}
    confirmation = tuple(t for t in tests.values() if t is not None)
    confirmed = [b for b in deciding if (tests[(b.scope, b.metric)] is not None and tests[(b.scope, b.metric)].rejected
                                         if b.metric in TESTED else
                                         (b.scope, b.metric) in exact_all
                                         and exact_all[(b.scope, b.metric)].passed is False)]
    lead = f"aborted at t={record.at_s:.0f}s: "
    breach = confirmed[0] if confirmed else deciding[0]
    key = (breach.scope, breach.metric)
    seen = exact_all.get(key)
    test = tests.get(key)
    if breach.metric in TESTED:
        outside = (f"the {test.n} requests of the judged run outside that window: {test.text()}" if test is not None
                   else "the judged run's points outside that window could not be counted")
        if confirmed:
            message = f"{lead}{breach.message} over {record.window_text()}; confirmed on {outside}"
        else:
            message = (f"{lead}{breach.message} over {record.window_text()} as the live check saw it, but it is "
                       f"not confirmed on {outside}: the abort is not confirmed")
        threshold, observed = breach.threshold, breach.observed
    elif confirmed:
        message = (f"{lead}{seen.message} over {record.window_text()} "
                   f"({_count(key[1], record.exact.requests(seen.scope))})")
        threshold, observed = seen.threshold, seen.observed
    else:
        again = (f"the complete stored points of that window give {seen.message.split(': ', 1)[-1]}"
                 if seen is not None else "the complete stored points of that window no longer show it")
        message = (f"{lead}{breach.message} over {record.window_text()} as the live check saw it, but "
                   f"{again}: the abort is not confirmed")
        threshold, observed = breach.threshold, seen.observed if seen is not None else None
    if confirmed and record.kind == "inconclusive":
        message += ": the load generator, not the target, was at its limit, so the run cannot be judged"
    if key in whole:
        message += f"; over the whole judged run: {whole[key].message}"
    passed = False if confirmed and record.kind == "fail" else None
    check = Check("run", "abort", threshold, observed, passed, "absolute" if passed is False else "data", message)
    return AbortOutcome(record, bool(confirmed), exact, whole_run, check, confirmation)


def _confirmation(record: AbortRecord, measured: Measurements, breach: Breach, level: float) -> ExactTest | None:
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
        stats = (measured.apis.get(breach.scope[4:]) if breach.scope.startswith("api:")
                 else measured.endpoints.get(breach.scope))
        n_r, bad_r = (stats.requests, stats.failures) if stats is not None else (0, 0)
    else:
        return None
    if bad_w is None or bad_r is None:
        return None
    n, bad = max(0, n_r - n_w), max(0, bad_r - bad_w)
    return exact_test(breach.scope, breach.metric, breach.threshold, n, min(bad, n), level)


def abort_dict(outcome: AbortOutcome | None, utc) -> dict[str, Any] | None:
    """verdict.json's ``abort``: when, which checks, the window's figures live and on complete data."""
    if outcome is None:
        return None
    r = outcome.record
    first = r.breaches[0]
    return {
        "at_s": r.at_s, "time": utc(r.time_ns), "kind": r.kind, "check": f"{first.scope} {first.metric}",
        "confirmed": outcome.confirmed, "message": outcome.check.message,
        "window": {"start": utc(r.start_ns), "end": utc(r.end_ns), "duration_s": (r.end_ns - r.start_ns) / 1e9},
        "live": [asdict(b) for b in r.breaches],
        "looks": {"look": r.look, "of": r.looks, "alpha": r.alpha},
        "confirmation": {"data": CONFIRMED_ON, "tests": [t.as_dict() for t in outcome.confirmation]},
        "exact": [_check_dict(c, r.exact.requests(c.scope) if r.exact is not None else None) for c in outcome.exact],
        "whole_run": [_check_dict(c) for c in outcome.whole_run],
    }


def _check_dict(c: Check, requests: int | None = None) -> dict[str, Any]:
    out = {"scope": c.scope, "metric": c.metric, "threshold": c.threshold, "observed": c.observed,
           "passed": c.passed, "message": c.message}
    if requests is not None:
        out["requests"] = requests
    return out


def _count(metric: str, n: int) -> str:
    return f"{n} CPU samples" if metric == CPU else f"{n} requests"


def abort_line(outcome: AbortOutcome) -> str:
    """One line for the summary's and the report's run facts."""
    r = outcome.record
    checks = ", ".join(dict.fromkeys(f"{b.scope} {b.metric}" for b in r.breaches))
    on = CONFIRMED_ON if outcome.confirmation else "the complete stored points"
    how = f"confirmed on {on}" if outcome.confirmed else f"NOT confirmed on {on}"
    what = "the target failed" if r.kind == "fail" else "the load generator was at its limit (inconclusive)"
    return f"at t={r.at_s:.0f} s: {what}: {checks} over {r.window_text()}; {how}"

"""An abort: the live checks' decision to stop a run early, kept as an ``events`` point of type
``abort``, and what the verdict makes of it.

The live checks read the stored points of a trailing window while the run goes on; points of
requests still in flight are not there yet. So after the run the checker reads the same window
again from the complete stored points and judges it with the same limits: the abort is
*confirmed* when a check that stopped the run still fails there. A confirmed abort of a target
limit is a FAIL; one the complete data does not confirm can never pass (the run was cut short)
and is said to be unconfirmed, and an abort on the load generator's own CPU is INCONCLUSIVE.
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
from harness.verdict.thresholds import Thresholds
from harness.verdict.window import WindowFigures, measure_window, window_checks

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


@dataclass(frozen=True)
class AbortRecord:
    at_s: float  # seconds from the test's start to the decision
    time_ns: int  # when it was decided
    kind: AbortKind  # "fail": a limit of the target; "inconclusive": the load generator's CPU
    start_ns: int  # the window that was judged
    end_ns: int
    breaches: tuple[Breach, ...]  # target limits first
    exact: WindowFigures | None = None  # the same window, re-read from the complete stored points

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
        return (f"aborted at t={self.at_s:.0f}s: {first.message} over {self.window_text()} "
                f"({_count(first.metric, first.requests)}){more}")


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
                      "breaches": json.dumps([asdict(b) for b in record.breaches])},
                     record.time_ns)


def _abort_events(client: InfluxClient, run_id: str, runs_rp: str, columns: str) -> list[dict]:
    source = f'{quote_ident(runs_rp)}."events"' if runs_rp else '"events"'
    return client.query(f'SELECT {columns} FROM {source} WHERE "run_id" = {quote_string(run_id)} '
                        f'AND "type" = \'abort\' LIMIT 1')


def was_aborted(client: InfluxClient, run_id: str, runs_rp: str) -> bool:
    return bool(_abort_events(client, run_id, runs_rp, '"kind"'))


def read_abort(client: InfluxClient, run_id: str, runs_rp: str, source: str = "requests") -> AbortRecord | None:
    """The run's abort, with its window read again from the stored points; None if it ran its course."""
    series = _abort_events(client, run_id, runs_rp, '"at_s", "kind", "window_start", "window_end", "breaches", '
                                                    '"test_env"')
    if not series or not series[0]["values"]:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0]))
    try:
        breaches = tuple(Breach(**b) for b in json.loads(row["breaches"]))
        record = AbortRecord(at_s=float(row["at_s"]), time_ns=int(row["time"]), kind=row["kind"],
                             start_ns=int(row["window_start"]), end_ns=int(row["window_end"]), breaches=breaches)
        if not breaches or record.kind not in ("fail", "inconclusive"):
            raise ValueError("no failed check in it")
    except (TypeError, ValueError) as exc:
        # Never judged as if it ran its course: an aborted run that passed would be a lie.
        raise HarnessError(f"run {run_id!r} has an abort event that cannot be read ({exc}); it was stopped "
                           f"early and cannot be judged") from None
    checks = tuple(dict.fromkeys(b.metric for b in breaches))
    return replace(record, exact=measure_window(client, run_id, record.start_ns, record.end_ns, checks,
                                                row.get("test_env") or "", source))


# -- in the verdict ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AbortOutcome:
    record: AbortRecord
    confirmed: bool  # a check that stopped the run fails on the complete points of its window too
    exact: tuple[Check, ...]  # the stopping checks, judged on the complete points of the window
    whole_run: tuple[Check, ...]  # the same scopes and metrics over the whole judged run
    check: Check  # the "run / abort" check the verdict carries


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
                   f"({_count(key[1], record.exact.requests(first.scope))})")
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
    how = ("confirmed by the complete stored points" if outcome.confirmed
           else "NOT confirmed by the complete stored points")
    what = "the target failed" if r.kind == "fail" else "the load generator was at its limit (inconclusive)"
    return f"at t={r.at_s:.0f} s: {what}: {checks} over {r.window_text()}; {how}"

"""Aborts without I/O: the ``abort:`` section of baselines.yaml, the live decision over a window,
and what the verdict makes of an abort (confirmed, unconfirmed, the load generator's CPU)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from harness.errors import HarnessError
from harness.settings import resolve
from harness.verdict.decide.abort import decide, evaluate_run
from harness.verdict.model import AbortRecord, Breach, WindowFigures
from harness.verdict.outputs.abort import abort_line
from harness.verdict.rules.abort_rule import AbortRule
from harness.verdict.outputs import summary_md, verdict_json
from harness.verdict.rules.thresholds import parse_thresholds
from tests.helpers import parse_flags
from tests.measurements import ep, run

S = 1_000_000_000
T0 = 1_700_000_000 * S  # the test's start
PAYMENTS = "POST /api/v1/payments"


# -- the abort section of baselines.yaml --------------------------------------------------------
@pytest.mark.parametrize("section, expected", [
    (None, AbortRule(60.0, 30.0, 5.0, ("success_rate", "p95"))),
    ({"after_s": 30, "window_s": 20}, AbortRule(30.0, 20.0, 5.0, ("success_rate", "p95"))),
    ({"every_s": 2, "checks": ["p99", "cpu", "p99"]}, AbortRule(60.0, 30.0, 2.0, ("p99", "cpu"))),
    ({"after_s": 0, "checks": ["success_rate", "p50", "p95", "p99", "max", "rps", "cpu"]},
     AbortRule(0.0, 30.0, 5.0, ("success_rate", "p50", "p95", "p99", "max", "rps", "cpu"))),
])
def test_abort_section_values_and_defaults(section, expected):
    data = {} if section is None else {"abort": section}
    assert parse_thresholds(data).abort == expected


@pytest.mark.parametrize("section, message", [
    ({"afterr_s": 30}, "baselines.yaml: unknown key 'afterr_s' in abort (did you mean 'after_s'?)"),
    ({"checks": ["p59"]}, "baselines.yaml: unknown check 'p59' in abort.checks (did you mean 'p95'?)"),
    ({"checks": ["succes_rate"]},
     "baselines.yaml: unknown check 'succes_rate' in abort.checks (did you mean 'success_rate'?)"),
    ({"checks": ["latency"]}, "baselines.yaml: unknown check 'latency' in abort.checks "
                              "(one of success_rate, p50, p95, p99, max, rps, cpu)"),
    ({"checks": []}, "baselines.yaml: abort.checks must be a list of checks, e.g. [success_rate, p95], "
                     "not an empty list"),
    ({"checks": "p95"}, "baselines.yaml: abort.checks must be a list of checks, e.g. [success_rate, p95], "
                        "not 'p95'"),
    ({"window_s": 0.5}, "baselines.yaml: abort.window_s is 0.5 but must be 1 or more"),
    ({"every_s": "5s"}, "baselines.yaml: abort.every_s must be a number, not '5s'"),
    ({"after_s": -1}, "baselines.yaml: abort.after_s is -1 but must be 0 or more"),
    ("yes", "baselines.yaml: abort must be a mapping of keys to values, not 'yes'"),
])
def test_abort_section_mistakes_are_one_line_errors(section, message):
    with pytest.raises(HarnessError) as caught:
        parse_thresholds({"abort": section})
    assert str(caught.value) == message


def test_the_abort_section_survives_the_round_trip_through_the_stored_thresholds():
    thresholds = parse_thresholds({"abort": {"after_s": 30, "window_s": 20, "checks": ["success_rate", "cpu"]}})
    stored = json.loads(json.dumps(thresholds.to_dict()))
    assert parse_thresholds({k: v for k, v in stored.items() if k != "source"}).abort == thresholds.abort


# -- the live decision over one window ------------------------------------------------------------
def window(*endpoints, cpu=None, seconds: float = 20.0) -> WindowFigures:
    start = T0 + 8 * S
    return WindowFigures(start, start + int(seconds * S), run(*endpoints), cpu or {})


HEALTHY = (ep("POST /api/v1/auth/login", 200), ep("POST /api/v1/generations", 200))


def test_a_failed_limit_over_the_window_aborts_naming_the_api_group_first():
    figures = window(*HEALTHY, ep(PAYMENTS, 100, success=50.0))
    record = decide(parse_thresholds({}), ("success_rate", "p95"), figures, T0, T0 + 30 * S)
    assert record is not None and record.kind == "fail" and record.at_s == 30.0
    assert [(b.scope, b.metric, b.requests) for b in record.breaches] == [
        ("api:payments", "success_rate", 100), (PAYMENTS, "success_rate", 100)]
    assert record.text() == ("aborted at t=30s: api:payments: success rate 50 % < 95 % over the 20 s window "
                             "t=8–28 s (100 requests) (and 1 more)")


@pytest.mark.parametrize("payments, checks, cpu, why", [
    (ep(PAYMENTS, 100), ("success_rate", "p95"), None, "every limit met"),
    (ep(PAYMENTS, 10, success=50.0), ("success_rate", "p95"), None, "fewer than min_samples requests"),
    (ep(PAYMENTS, 100, p95=900.0), ("success_rate",), None, "p95 is not a live check here"),
    (ep(PAYMENTS, 100), ("cpu",), {"w1": (97.0, 5)}, "too few CPU samples for the window"),
    (ep(PAYMENTS, 100), ("cpu",), {"w1": (85.0, 20)}, "CPU fell below the limit in the window"),
    (ep(PAYMENTS, 100), ("success_rate",), {"w1": (99.0, 20)}, "cpu is not a live check here"),
])
def test_no_abort(payments, checks, cpu, why):
    record = decide(parse_thresholds({}), checks, window(*HEALTHY, payments, cpu=cpu), T0, T0 + 30 * S)
    assert record is None, why


def test_the_load_generators_cpu_aborts_as_inconclusive_and_only_when_configured():
    figures = window(*HEALTHY, ep(PAYMENTS, 100), cpu={"w1": (97.5, 20), "w2": (40.0, 20)})
    record = decide(parse_thresholds({}), ("success_rate", "cpu"), figures, T0, T0 + 30 * S)
    assert record.kind == "inconclusive"
    assert [(b.scope, b.observed) for b in record.breaches] == [("worker:w1", 97.5)]
    assert decide(parse_thresholds({"max_cpu_percent": None}), ("cpu",), figures, T0, T0 + 30 * S) is None


# -- the verdict of an aborted run -----------------------------------------------------------------
def aborted(record_window: WindowFigures, whole_run_payments, *, kind="fail", breaches=None):
    """A run whose live checks stopped it at t=30 s, its window re-read as ``record_window``."""
    breaches = breaches or (Breach("api:payments", "success_rate", 95.0, 50.0, 100,
                                   "api:payments: success rate 50 % < 95 %"),)
    record = AbortRecord(at_s=30.0, time_ns=T0 + 30 * S, kind=kind, start_ns=record_window.start_ns,
                         end_ns=record_window.end_ns, breaches=breaches, exact=record_window)
    return replace(run(*HEALTHY, whole_run_payments), abort=record)


def test_a_confirmed_abort_fails_with_the_window_first_in_the_reasons():
    measured = aborted(window(*HEALTHY, ep(PAYMENTS, 120, success=45.0)), ep(PAYMENTS, 300, success=60.0))
    verdict = evaluate_run(parse_thresholds({}), measured)
    assert verdict.verdict == "fail" and verdict.abort.confirmed
    assert verdict.reasons[0] == ("aborted at t=30s: api:payments: success rate 45 % < 95 % over the 20 s window "
                                  "t=8–28 s (120 requests); over the whole judged run: api:payments: success "
                                  "rate 60 % < 95 %")
    doc = verdict_json.document(verdict, parse_thresholds({}))["abort"]
    assert (doc["kind"], doc["confirmed"], doc["check"], doc["at_s"]) == ("fail", True, "api:payments success_rate",
                                                                          30.0)
    assert doc["window"]["duration_s"] == 20.0 and doc["window"]["start"].endswith("Z")
    assert [(c["scope"], c["observed"], c["passed"], c["requests"]) for c in doc["exact"]] == [
        ("api:payments", 45.0, False, 120)]
    assert [(c["scope"], c["observed"], c["passed"]) for c in doc["whole_run"]] == [("api:payments", 60.0, False)]
    assert "| Aborted | at t=30 s: the target failed: api:payments success_rate over the 20 s window t=8–28 s; " \
           "confirmed by the complete stored points |" in summary_md.render(verdict, parse_thresholds({}))


def test_an_abort_the_complete_points_do_not_confirm_is_inconclusive_and_says_so():
    # Live, the window looked bad; with every point of it stored, it meets the limit.
    measured = aborted(window(*HEALTHY, ep(PAYMENTS, 100, success=96.0)), ep(PAYMENTS, 300, success=99.0))
    verdict = evaluate_run(parse_thresholds({}), measured)
    assert verdict.verdict == "inconclusive" and int(verdict.exit_code) == 2
    assert not verdict.abort.confirmed
    assert verdict.reasons == [
        "aborted at t=30s: api:payments: success rate 50 % < 95 % over the 20 s window t=8–28 s as the live "
        "check saw it, but the complete stored points of that window give success rate 96 % ≥ 95 %: the abort "
        "is not confirmed; over the whole judged run: api:payments: success rate 99 % ≥ 95 %"]
    assert "NOT confirmed" in abort_line(verdict.abort)


def test_an_unconfirmed_abort_still_fails_when_the_whole_run_fails_a_limit():
    measured = aborted(window(*HEALTHY, ep(PAYMENTS, 120, success=96.0)), ep(PAYMENTS, 300, success=90.0))
    verdict = evaluate_run(parse_thresholds({}), measured)
    assert verdict.verdict == "fail"
    assert "the abort is not confirmed" in verdict.reasons[-1]  # listed, not hidden behind the FAIL
    assert "api:payments: success rate 90 % < 95 %" in verdict.reasons


def test_a_cpu_abort_is_inconclusive_never_fail():
    cpu = Breach("worker:w1", "cpu", 90.0, 97.0, 20, "worker:w1: the load generator's CPU stayed above 90 % "
                                                    "for the whole window (lowest 97.0 %)")
    measured = aborted(window(*HEALTHY, ep(PAYMENTS, 100), cpu={"w1": (97.0, 20)}), ep(PAYMENTS, 300),
                       kind="inconclusive", breaches=(cpu,))
    verdict = evaluate_run(parse_thresholds({}), measured)
    assert verdict.verdict == "inconclusive" and verdict.abort.confirmed
    assert verdict.reasons[0].startswith("aborted at t=30s: worker:w1: the load generator's CPU stayed above 90 % "
                                         "for the whole window (lowest 97.0 %) over the 20 s window t=8–28 s "
                                         "(20 CPU samples): the load generator, not the target")


def test_a_target_abort_is_not_confirmed_by_the_cpu_beside_it():
    target = Breach("api:payments", "success_rate", 95.0, 50.0, 100, "api:payments: success rate 50 % < 95 %")
    cpu = Breach("worker:w1", "cpu", 90.0, 97.0, 20, "worker:w1: CPU")
    measured = aborted(window(*HEALTHY, ep(PAYMENTS, 100), cpu={"w1": (97.0, 20)}), ep(PAYMENTS, 300),
                       breaches=(target, cpu))
    verdict = evaluate_run(parse_thresholds({}), measured)
    assert verdict.verdict == "inconclusive" and not verdict.abort.confirmed


# -- --abort-on-fail / ABORT_ON_FAIL ----------------------------------------------------------------
@pytest.mark.parametrize("flags, environ, expected", [
    ([], {}, False),
    (["--abort-on-fail"], {}, True),
    (["--abort-on-fail", "--users", "5"], {}, True),
    (["--abort-on-fail", "false"], {"ABORT_ON_FAIL": "true"}, False),
    ([], {"ABORT_ON_FAIL": "true"}, True),
    ([], {"ABORT_ON_FAIL": "YES"}, True),
    ([], {"ABORT_ON_FAIL": "0"}, False),
    ([], {"ABORT_ON_FAIL": ""}, False),  # blank: not set
])
def test_abort_on_fail_is_a_switch(flags, environ, expected):
    assert resolve(parse_flags(*flags), environ, None).abort_on_fail is expected


def test_a_bad_abort_on_fail_value_is_a_one_line_error():
    with pytest.raises(HarnessError) as caught:
        resolve(parse_flags(), {"ABORT_ON_FAIL": "maybe"}, None)
    assert str(caught.value) == "ABORT_ON_FAIL from the environment: 'maybe' is not true or false"

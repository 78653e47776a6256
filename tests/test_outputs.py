"""verdict.json, junit.xml and summary.md, read back the way their users read them."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.verdict.decide.evaluate import evaluate
from harness.verdict.model import (
    Baseline,
    BaselineInfo,
    Completeness,
    EndpointStats,
    Measurements,
    Spread,
    Stats,
)
from harness.verdict.outputs import write_outputs
from harness.verdict.rules.thresholds import Thresholds, parse_thresholds

PAY = "POST /api/v1/payments"
GEN = "GET /api/v1/generations/[id]"


def stats(requests: int, failures: int, p95: float, **more) -> dict:
    values: dict[str, Any] = dict(
        requests=requests,
        failures=failures,
        success_rate=100 * (requests - failures) / requests,
        p50=p95 / 3,
        p95=p95,
        p99=p95 * 1.1,
        max=p95 * 2,
        rps=requests / 55,
    )
    values.update(more)
    return values


def measurements(**more) -> Measurements:
    payments = EndpointStats(key=PAY, api="payments", **stats(1000, 299, 312.3456789))
    poll = EndpointStats(key=GEN, api="generation", **stats(500, 0, 120.25))
    values: dict[str, Any] = dict(
        run_id="run-42",
        test_env="staging",
        start=datetime(2025, 3, 1, 10, 0, 5, tzinfo=timezone.utc),
        end=datetime(2025, 3, 1, 10, 5, 0, tzinfo=timezone.utc),
        duration_s=295.0,
        warmup_s=5.0,
        endpoints={PAY: payments, GEN: poll},
        apis={
            "payments": Stats(**stats(1000, 299, 312.3456789)),
            "generation": Stats(**stats(500, 0, 120.25)),
        },
        generation_rate=9.87654321,
        generation_target=10.0,
        completeness=Completeness(seen=1500, stored=1500, dropped=0, spooled=12, workers=3),
        cpu_max_percent=97.5,
    )
    values.update(more)
    return Measurements(**values)


@pytest.fixture
def written(tmp_path):
    thresholds = Thresholds()
    verdict = evaluate(thresholds, measurements())
    paths = write_outputs(verdict, tmp_path / "out", thresholds)
    return verdict, paths


def test_all_three_files_are_written(written):
    _, paths = written
    assert sorted(paths) == ["junit", "summary_md", "verdict_json"]
    assert [p.name for p in paths.values()] == ["verdict.json", "junit.xml", "summary.md"]
    assert all(p.is_file() for p in paths.values())
    assert not list(paths["junit"].parent.glob(".*.tmp"))


def test_verdict_json_holds_the_verdict_and_exact_numbers(written):
    verdict, paths = written
    doc = json.loads(paths["verdict_json"].read_text(encoding="utf-8"))
    assert (doc["schema_version"], doc["run_id"], doc["test_env"]) == (1, "run-42", "staging")
    assert (doc["verdict"], doc["exit_code"], doc["baseline_run_id"]) == ("fail", 1, None)
    assert doc["window"] == {
        "start": "2025-03-01T10:00:05.000000000Z",
        "end": "2025-03-01T10:05:00.000000000Z",
        "start_ns": 1740823205000000000,
        "end_ns": 1740823500000000000,
        "duration_s": 295.0,
        "warmup_s": 5.0,
    }
    assert doc["endpoints"][PAY]["p95"] == 312.3456789  # not rounded
    assert doc["endpoints"][PAY]["api"] == "payments"
    assert doc["endpoints"][PAY]["success_rate"] == pytest.approx(70.1)
    assert doc["apis"]["generation"]["requests"] == 500
    assert doc["generation"] == {
        "target_per_s": 10.0,
        "min_per_s": 9.5,
        "max_per_s": 10.5,
        "achieved_per_s": 9.87654321,
    }
    assert doc["load"] == {
        "model": "users",
        "window_s": 10.0,
        "tolerance": 0.05,
        "latency": "service",
        "apis": {},
        "absent": [],
    }
    assert doc["endpoints"][PAY]["scheduled"] is None
    assert doc["completeness"] == {
        "seen": 1500,
        "stored": 1500,
        "missing": 0,
        "dropped": 0,
        "spooled": 12,
        "workers": 3,
        "lost_workers": [],
        "quarantined": 0,
    }
    assert f"{PAY}: success rate 70.1 % < 95 %" in doc["reasons"]
    assert any("saturated" in w for w in doc["warnings"])
    assert doc["thresholds"]["apis"]["auth"]["min_success_rate"] == 99.0
    failed = [c for c in doc["checks"] if c["passed"] is False]
    assert {(c["scope"], c["metric"]) for c in failed} == {
        (PAY, "success_rate"),
        (PAY, "p95"),
        ("api:payments", "success_rate"),
        ("api:payments", "p95"),
    }
    assert len(doc["checks"]) == len(verdict.checks)
    assert set(doc["checks"][0]) == {"scope", "metric", "threshold", "observed", "passed", "kind", "message"}


def test_verdict_json_has_no_nan(tmp_path):
    thresholds = Thresholds()
    verdict = evaluate(thresholds, measurements(cpu_max_percent=float("nan"), generation_rate=float("inf")))
    doc = json.loads(write_outputs(verdict, tmp_path, thresholds)["verdict_json"].read_text())
    assert doc["cpu_max_percent"] is None and doc["generation"]["achieved_per_s"] is None


def test_junit_has_one_case_per_check_with_failures_and_skips(tmp_path):
    thresholds = parse_thresholds({"min_samples": 800})  # the poll endpoint has only 500
    verdict = evaluate(thresholds, measurements())
    root = ET.parse(write_outputs(verdict, tmp_path, thresholds)["junit"]).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(verdict.checks) == int(suite.get("tests"))
    assert int(suite.get("failures")) == 4 and int(suite.get("skipped")) == 1
    by_name = {(c.get("classname"), c.get("name")): c for c in cases}
    failure = by_name[(PAY, "success_rate")].find("failure")
    assert failure.get("message") == f"{PAY}: success rate 70.1 % < 95 %"
    assert by_name[(GEN, "samples")].find("skipped") is not None
    passed = by_name[(GEN, "p95")]
    assert passed.find("failure") is None and passed.find("skipped") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "fail" and props["run_id"] == "run-42"
    assert "saturated" in suite.find("system-out").text


def test_junit_error_verdict_has_an_error_case(tmp_path):
    thresholds = parse_thresholds({"endpoints": {"GET /helth": {"max_p95_ms": 1}}})
    verdict = evaluate(thresholds, measurements())
    suite = ET.parse(write_outputs(verdict, tmp_path, thresholds)["junit"]).getroot()[0]
    error = suite.find("testcase[@name='verdict']/error")
    assert "GET /helth" in error.get("message") and suite.get("errors") == "1"


def only_poll(**more) -> Measurements:
    whole = measurements()
    return measurements(
        endpoints={GEN: whole.endpoints[GEN]}, apis={"generation": whole.apis["generation"]}, **more
    )


def test_a_users_own_api_is_judged_by_its_own_groups_only(tmp_path):
    t = parse_thresholds({"apis": {"orders": {"max_p95_ms": 400}, "catalog": {"min_success_rate": 99}}})
    own = {
        "POST /orders": EndpointStats(key="POST /orders", api="orders", **stats(400, 0, 120.0)),
        "GET /catalog/[id]": EndpointStats(key="GET /catalog/[id]", api="catalog", **stats(900, 0, 30.0)),
    }
    m = measurements(
        endpoints=own,
        apis={"orders": Stats(**stats(400, 0, 120.0)), "catalog": Stats(**stats(900, 0, 30.0))},
        generation_rate=None,
        generation_target=None,
        cpu_max_percent=10.0,
        completeness=Completeness(seen=1300, stored=1300, dropped=0, spooled=0, workers=1),
    )
    verdict = evaluate(t, m)
    assert verdict.verdict == "pass" and verdict.warnings == []  # no "no requests in api group 'auth'"
    paths = write_outputs(verdict, tmp_path, t)
    assert "Generations" not in paths["summary_md"].read_text(encoding="utf-8")
    assert json.loads(paths["verdict_json"].read_text())["generation"]["target_per_s"] is None


def test_the_generation_line_shows_where_generations_ran(written):
    assert "| Generations | 9.88/s achieved, target 10/s |" in written[1]["summary_md"].read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize(
    "headline, thresholds, m",
    [
        ("## ❌ FAIL", {}, measurements()),
        ("## ✅ PASS", {}, only_poll(cpu_max_percent=10.0)),
        ("## ⚠️ INCONCLUSIVE", {}, only_poll(completeness=None)),
        ("## 🛑 ERROR", {"endpoints": {"GET /helth": {"max_p95_ms": 1}}}, only_poll()),
    ],
)
def test_summary_headline_and_exit_code(tmp_path, headline, thresholds, m):
    t = parse_thresholds(thresholds)
    verdict = evaluate(t, m)
    text = write_outputs(verdict, tmp_path, t)["summary_md"].read_text(encoding="utf-8")
    assert text.startswith(f"{headline} — load test `run-42`")
    assert f"| Exit code | {int(verdict.exit_code)} |" in text


def test_summary_lists_failures_before_the_table_then_warnings_and_completeness(written):
    _, paths = written
    text = paths["summary_md"].read_text(encoding="utf-8")
    why = text.index(f"❌ {PAY}: success rate 70.1 % < 95 %")
    table = text.index("### Endpoints")
    assert why < table < text.index("### Warnings") < text.index("**Completeness:**")
    assert "| Environment | staging |" in text
    assert (
        "**Completeness:** 1500 of 1500 request points stored in InfluxDB (0 missing, "
        "0 dropped, 12 spooled, 0 quarantined, 3 workers reported)." in text
    )
    row = next(line for line in text.splitlines() if line.startswith(f"| `{PAY}`"))
    assert row.split(" | ")[1:] == [
        "payments",
        "1000",
        "299",
        "70.10",
        "104.1",
        "312.3",
        "343.6",
        "624.7",
        "18.18",
        "❌ fail |",
    ]
    assert "| Generations | 9.88/s achieved, target 10/s |" in text


def test_summary_never_rounds_a_failing_run_up_to_100_percent_and_escapes_pipes(tmp_path):
    key = "GET /a|b"
    odd = EndpointStats(key=key, api="other", **stats(100000, 1, 10.0))
    m = measurements(endpoints={key: odd}, apis={})
    verdict = evaluate(Thresholds(), m)
    text = write_outputs(verdict, tmp_path, Thresholds())["summary_md"].read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `GET /a\\|b`"))
    assert "| 99.99 |" in row


def test_unwritable_out_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    verdict = evaluate(Thresholds(), measurements())
    with pytest.raises(HarnessError, match="cannot write the verdict files to"):
        write_outputs(verdict, blocker / "out", Thresholds())


def with_spread(stats: EndpointStats | Stats, se: float = 0.5) -> EndpointStats | Stats:
    return replace(stats, spread={s: Spread(se, 10) for s in ("p50", "p95", "p99", "success_rate")})


def test_comparisons_in_verdict_json_and_the_summary(tmp_path):
    base = measurements(run_id="base-7")
    base = replace(
        base,
        endpoints={k: with_spread(v) for k, v in base.endpoints.items()},
        apis={k: with_spread(v) for k, v in base.apis.items()},
    )
    now = measurements()
    slower = replace(now.endpoints[PAY], p50=now.endpoints[PAY].p50 + 50)
    now = replace(
        now,
        endpoints={**{k: with_spread(v) for k, v in now.endpoints.items()}, PAY: with_spread(slower)},
        apis={k: with_spread(v) for k, v in now.apis.items()},
    )
    thresholds = Thresholds()
    verdict = evaluate(thresholds, now, Baseline.of(base))
    paths = write_outputs(verdict, tmp_path, thresholds)
    doc = json.loads(paths["verdict_json"].read_text())
    assert doc["baseline"] == {
        "spec": "base-7",
        "run_ids": ["base-7"],
        "method": "run",
        "forced": False,
        "load_difference": None,
        "unusable": None,
        "note": None,
        "unit": "run",
        "runs": 1,
        "interval": "run-to-run floor",
        "run_to_run_percent": 5.0,
        "false_positive_rate": 0.05,
        "multiple_testing": "holm",
        "tests": 16,
    }
    assert len(doc["comparisons"]) == 4 * 4  # two endpoints and two groups, four statistics each
    p50 = next(c for c in doc["comparisons"] if (c["scope"], c["statistic"]) == (PAY, "p50"))
    assert p50["decision"] == "regressed" and p50["change"] == pytest.approx(50.0)
    assert p50["low"] < 50 < p50["high"] and p50["limit"] == pytest.approx(base.endpoints[PAY].p50 * 1.1)
    assert p50["runs"] == 1 and p50["run_to_run_percent"] == 5.0 and 0 <= p50["p_value"] < 0.05 / 16
    assert doc["endpoints"][PAY]["spread"]["p95"] == {"se": 0.5, "windows": 10}
    summary = paths["summary_md"].read_text()
    assert (
        "### Against the baseline" in summary
        and "Compared with run `base-7` (base-7): 1 regressed" in summary
    )
    rows = [
        line
        for line in summary.splitlines()
        if re.match(r"\| `[^`]+` \| (p50|p95|p99|success_rate) \|", line)
    ]
    assert len(rows) == 16
    row = next(line for line in rows if line.startswith(f"| `{PAY}` | p50 |"))
    assert re.fullmatch(
        rf"\| `{PAY}` \| p50 \| 104.1 ms \| 154.1 ms \| \+50 ms \(\+48 %\) "
        r"\| \+29.8 … \+70.2 ms \| ❌ regressed \|",
        row,
    ), row  # ± z(1 − 0.05/16) · 7.4 ms: the floor dominates
    # What the intervals were built from, in words: the unit, the floor, how many statistics.
    assert (
        "The run is the unit: intervals hold an assumed run-to-run variation of 5 % "
        "(regression.run_to_run_percent; one baseline run cannot measure it)"
    ) in summary
    assert "Holm over the 16 statistics with an interval" in summary


def test_an_unusable_baseline_is_said_in_one_line_in_the_summary(tmp_path):
    info = BaselineInfo(
        "last-pass",
        (),
        unusable="--baseline last-pass: no passing run of test env 'x' is "
        "stored yet: nothing to compare with",
    )
    verdict = evaluate(Thresholds(), measurements(), Baseline(info))
    paths = write_outputs(verdict, tmp_path, Thresholds())
    assert f"Not compared: {info.unusable}" in paths["summary_md"].read_text()
    assert json.loads(paths["verdict_json"].read_text())["comparisons"] == []


def arrival_verdict(thresholds: Thresholds):
    from harness.verdict.model import Latency
    from tests.measurements import arrival_run, window

    stalled = window(15, late=110, slowest_in_flight_ms=2950.0, max_lag_ms=2950.0, requests=400)
    m = arrival_run(
        window(5, started=398, requests=398),
        stalled,
        scheduled={PAY: Latency(p50=6.0, p95=1850.0, p99=2900.0, max=3010.0)},
        scheduled_apis={"payments": Latency(p50=6.0, p95=1850.0, p99=2900.0, max=3010.0)},
    )
    return evaluate(thresholds, m)


def test_arrival_model_verdict_json_has_the_load_and_both_latencies(tmp_path):
    thresholds = Thresholds()
    verdict = arrival_verdict(thresholds)
    doc = json.loads(write_outputs(verdict, tmp_path, thresholds)["verdict_json"].read_text(encoding="utf-8"))
    assert doc["verdict"] == "fail"
    assert doc["endpoints"][PAY]["p99"] == 120.0  # service time (the test's endpoint: p95 × 1.2) …
    assert doc["endpoints"][PAY]["scheduled"] == {"p50": 6.0, "p95": 1850.0, "p99": 2900.0, "max": 3010.0}
    assert doc["apis"]["payments"]["scheduled"]["p99"] == 2900.0
    load = doc["load"]
    assert (load["model"], load["latency"], load["absent"]) == (
        "arrival",
        "scheduled",
        ["auth", "generation"],
    )
    payments = load["apis"]["payments"]
    assert (payments["target_per_s"], payments["late"], payments["dropped"]) == (40.0, 110, 0)
    assert payments["achieved_per_s"] == pytest.approx(39.9)
    assert [w["start_s"] for w in payments["windows"]] == [5, 15]
    assert payments["windows"][0]["key_requests_per_s"] == 39.8
    assert payments["windows"][1]["slowest_in_flight_ms"] == 2950.0
    assert doc["generation"]["target_per_s"] is None  # the users model's check does not apply


def test_arrival_model_summary_shows_the_load_and_latency_from_the_scheduled_start(tmp_path):
    thresholds = Thresholds()
    text = write_outputs(arrival_verdict(thresholds), tmp_path, thresholds)["summary_md"].read_text(
        encoding="utf-8"
    )
    assert "| Load | arrival model: payments 40/s; latency limits judged from the scheduled start |" in text
    assert "| payments | 40 | 39.8 – 40 | 39.8 – 40 | 110 | 0 | 2950.0 | ❌ fail |" in text
    assert "No rate, so not run and not judged: auth, generation." in text
    row = next(line for line in text.splitlines() if line.startswith(f"| `{PAY}`"))
    # service-time p95 and p99, then the same from the scheduled start
    assert row.split(" | ")[6:11] == ["100.0", "120.0", "150.0", "1850.0", "2900.0"]
    assert "p95 ms from sched. | p99 ms from sched." in text
    assert "| Generations |" not in text
    assert text.index("### Why") < text.index("### Load") < text.index("### Endpoints")

"""Whose limit was hit, end to end through ``harness run`` on the healthy sandbox: a load generator
that cannot offer the load asked for on a fast target is INCONCLUSIVE in one line that says what
to change — never a PASS, never the target's FAIL. In both models."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import harness

pytestmark = [pytest.mark.influx, pytest.mark.slow]


def generator_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("  - load generator:")]


def test_a_pool_too_small_for_the_rate_is_inconclusive_and_says_how_many_users(influxd, influx_db, tmp_path):
    # A generation iteration polls its task for about 0.8 s: 2 users can start about 2.5 a second.
    proc = harness(
        "run",
        "--rate",
        "generation=10",
        "--users",
        "2",
        "--run-time",
        "20s",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "verdict: INCONCLUSIVE" in proc.stdout
    (line,) = generator_lines(proc.stdout)
    assert (
        "api:generation" in line
        and "the pool of 2 users was too small while generation answered fast" in line
    )
    needed = int(line.rsplit("raise --users to at least ", 1)[1])
    assert 6 <= needed <= 20  # Little's law: 10/s × ~0.8 s, with headroom
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["reasons"][0] == line[len("  - ") :]
    assert not [
        c for c in verdict["checks"] if c["scope"] == "api:generation" and c["metric"] == "arrival_rate"
    ]
    load = verdict["load"]["apis"]["generation"]
    assert load["late"] > 0 and load["achieved_per_s"] < 9.5


def test_too_few_users_for_the_generation_target_is_the_load_generators_limit(influxd, influx_db, tmp_path):
    # The issue's own example: 10 users give 5 GenerationUsers, which cannot offer 10/s.
    proc = harness(
        "run",
        "--users",
        "10",
        "--spawn-rate",
        "10",
        "--run-time",
        "8s",
        "--influx-url",
        influxd.url,
        "--influx-db",
        influx_db.settings.database,
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = generator_lines(proc.stdout)
    # The bound is 0.95 × 10/s, or lower over a judged run this short (pacing's spread).
    shortfall = re.match(
        r"  - load generator: api:generation ([\d.]+) generations/s < ([\d.]+) generations/s", line
    )
    assert shortfall and float(shortfall[1]) < float(shortfall[2]) <= 9.5, line
    assert "raise --users to at least " in line
    assert "verdict: FAIL" not in proc.stdout

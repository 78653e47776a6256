"""``harness history``: change points over the stored run summaries, printed and stored as the
history dashboard's annotations; and the detector on its own (harness/history/changepoints.py)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.history.changepoints import MIN_SEGMENT, level_shifts
from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.lineprotocol import make_line
from tests.helpers import assert_one_line, harness

ENV = "nightly"
RUNS = 14
SHIFT_AT = 8  # the payments slowdown starts with the 9th run
PAYMENTS = "POST /api/v1/payments"
LOGIN = "POST /api/v1/auth/login"


# -- the detector ------------------------------------------------------------------------------------


def noisy(levels: list[float], cv: float = 0.05, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    return [level * rng.lognormal(0, cv) for level in levels]


def test_a_level_shift_is_found_where_it_starts_with_the_levels_around_it():
    values = noisy([3.4] * 12 + [21.1] * 10)
    (shift,) = level_shifts(values, lambda before: 0.1 * before)
    assert shift.index == 12
    assert shift.before == pytest.approx(3.4, rel=0.1) and shift.after == pytest.approx(21.1, rel=0.1)
    assert shift.change_percent == pytest.approx(520, rel=0.15)


@pytest.mark.parametrize("seed", range(5))
def test_noise_and_one_slow_run_are_no_change(seed):
    values = noisy([5.0] * 30, seed=seed)
    values[15] *= 3  # one run on a busy machine
    assert level_shifts(values, lambda before: 0.1 * before) == []


def test_a_change_below_the_minimum_effect_is_not_reported():
    values = noisy([10.0] * 12 + [10.6] * 12, cv=0.005)
    assert [s.index for s in level_shifts(values)] == [12]  # detectable ...
    assert level_shifts(values, lambda before: 0.1 * before) == []  # ... but 6 % is below 10 %


def test_too_short_a_history_has_no_change_point():
    assert level_shifts([1.0, 1.0, 1.0, 9.0, 9.0]) == []
    assert MIN_SEGMENT == 3


# -- the command against a real InfluxDB ------------------------------------------------------------


def summary_line(run_id: str, endpoint: str, api: str, p95: float, success_rate: float, ts_ns: int) -> str:
    tags = {
        "run_id": run_id,
        "test_env": ENV,
        "verdict": "pass",
        "scope": "endpoint",
        "api": api,
        "endpoint": endpoint,
    }
    return make_line(
        "run_summary",
        tags,
        {"requests": 500, "failures": 0, "p95": p95, "success_rate": success_rate, "verdict_text": "pass"},
        ts_ns,
    )


@pytest.fixture(scope="module")
def history_db(influxd):
    """Fourteen judged runs a day apart: payments' p95 goes from ~3.4 to ~21 ms at the 9th run,
    login stays where it was, and the success rates stay at 100 % but for noise."""
    db = "t_history"
    client = InfluxClient(InfluxSettings(url=influxd.url, database=db))
    client.query_results(f'DROP DATABASE "{db}"', method="POST", epoch="")
    client.query_results(f'CREATE DATABASE "{db}"', method="POST", epoch="")
    client.create_retention_policy("runs", "INF")
    rng = np.random.default_rng(11)
    day, t0 = 86_400 * 10**9, 1_790_000_000 * 10**9
    lines = []
    for i in range(RUNS):
        run_id = f"2026110{i // 10}T{i % 10:02d}0000Z-hist"
        payments = (3.4 if i < SHIFT_AT else 21.1) * rng.lognormal(0, 0.05)
        lines.append(
            summary_line(run_id, PAYMENTS, "payments", payments, 100 - rng.uniform(0, 0.05), t0 + i * day)
        )
        lines.append(summary_line(run_id, LOGIN, "auth", 5.6 * rng.lognormal(0, 0.05), 100.0, t0 + i * day))
    client.write(("\n".join(lines) + "\n").encode(), retention_policy="runs")
    return client, [f"2026110{i // 10}T{i % 10:02d}0000Z-hist" for i in range(RUNS)]


def history(influxd, db: str, *args: str):
    return harness("history", "--influx-url", influxd.url, "--influx-db", db, *args)


@pytest.mark.influx
def test_history_prints_the_payments_slowdown_at_the_run_it_started(influxd, history_db):
    client, runs = history_db
    proc = history(influxd, "t_history", "--test-env", ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    changes = [line for line in proc.stdout.splitlines() if line.strip().startswith("change:")]
    assert len(changes) == 1, proc.stdout
    assert f"{PAYMENTS} p95:" in changes[0] and f"from run {runs[SHIFT_AT]}" in changes[0]
    assert f"after {runs[SHIFT_AT - 1]}" in changes[0]
    assert f"{RUNS} judged runs" in proc.stdout and "stored 1 change point" in proc.stdout
    # Stored where the history dashboard's "Change points" annotation reads it.
    (events,) = client.query(
        'SELECT "title", "text", "scope" FROM "runs"."events" WHERE "type" = \'change_point\''
    )
    ((_, title, text, scope),) = [tuple(row) for row in events["values"]]
    assert title == f"Change point: {PAYMENTS} p95" and scope == f"{PAYMENTS} p95" and runs[SHIFT_AT] in text
    # Storing the same analysis again overwrites its own point.
    assert history(influxd, "t_history", "--test-env", ENV).returncode == 0
    (events,) = client.query('SELECT count("title") FROM "runs"."events" WHERE "type" = \'change_point\'')
    assert events["values"][0][1] == 1


@pytest.mark.influx
def test_last_keeps_the_newest_runs(influxd, history_db):
    # The six runs since the slowdown: one level, no change.
    proc = history(influxd, "t_history", "--test-env", ENV, "--last", "6", "--no-store")
    assert proc.returncode == 0, proc.stderr
    assert "no change of level" in proc.stdout


@pytest.mark.influx
def test_unknown_test_env_is_one_line_naming_the_known_ones(influxd, history_db):
    assert_one_line(history(influxd, "t_history", "--test-env", "staging"), "'staging'", ENV)


@pytest.mark.influx
def test_no_runs_at_all_and_too_few_runs_are_one_line(influxd, history_db):
    empty = InfluxClient(InfluxSettings(url=influxd.url, database="t_history_empty"))
    empty.query_results('CREATE DATABASE "t_history_empty"', method="POST", epoch="")
    empty.create_retention_policy("runs", "INF")
    assert_one_line(history(influxd, "t_history_empty", "--test-env", ENV), "no judged run")
    assert_one_line(history(influxd, "t_history_missing", "--test-env", ENV), "t_history_missing")
    assert_one_line(history(influxd, "t_history", "--test-env", ENV, "--last", "4"), "at least 6")


def test_unreachable_influxdb_is_one_line():
    proc = harness("history", "--influx-url", "http://127.0.0.1:9", "--test-env", ENV)
    assert_one_line(proc, "unreachable")

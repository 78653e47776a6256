"""baselines.yaml: defaults, merging, validation messages, and the rows dashboards draw."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.verdict.rules.thresholds import (
    Limits,
    Thresholds,
    load_thresholds,
    parse_thresholds,
    thresholds_as_points,
)

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baselines.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "api, success, p95",
    [
        ("auth", 99.0, 200.0),
        ("generation", 95.0, 500.0),
        ("payments", 95.0, 300.0),
    ],
)
def test_built_in_defaults_are_the_briefs_numbers(api, success, p95):
    limits = Thresholds().apis[api]
    assert (limits.min_success_rate, limits.max_p95_ms) == (success, p95)


def test_built_in_generation_and_regression_defaults():
    t = Thresholds()
    assert (t.generation.target_per_s, t.generation.min_throughput_ratio) == (10.0, 0.95)
    assert (t.warmup_s, t.min_samples, t.max_cpu_percent) == (5.0, 20, 90.0)
    assert (
        t.regression.min_effect_percent,
        t.regression.min_effect_ms,
        t.regression.max_success_rate_drop,
        t.regression.false_positive_rate,
        t.regression.windows,
        t.regression.run_to_run_percent,
    ) == (10.0, 2.0, 1.0, 0.05, 10, 5.0)
    assert parse_thresholds({"regression": {"run_to_run_percent": 8}}).regression.run_to_run_percent == 8.0


def test_repo_file_loads_with_the_briefs_numbers():
    t = load_thresholds(REPO / "baselines.yaml")
    assert t.apis == Thresholds().apis
    assert t.endpoints == {"GET /health": {"max_p95_ms": 100.0}}
    assert t.source.endswith("baselines.yaml")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "endpoints:\n"])
def test_empty_file_or_section_means_defaults(tmp_path, text):
    t = load_thresholds(write(tmp_path, text))
    assert t.apis == Thresholds().apis and t.endpoints == {}


def test_a_group_in_the_file_changes_only_the_keys_it_names(tmp_path):
    t = load_thresholds(write(tmp_path, "apis:\n  auth: {max_p95_ms: 150, max_p99_ms: 400}\n"))
    assert t.apis["auth"] == Limits(min_success_rate=99.0, max_p95_ms=150.0, max_p99_ms=400.0)
    assert t.apis["payments"] == Thresholds().apis["payments"]


def test_null_switches_a_group_limit_off(tmp_path):
    t = load_thresholds(write(tmp_path, "apis:\n  auth: {max_p95_ms: null}\n"))
    assert t.apis["auth"] == Limits(min_success_rate=99.0)
    assert set(t.apis) == {"auth", "generation", "payments"}


@pytest.mark.parametrize(
    "text, groups",
    [
        # A user's own API: its groups are the only ones, no built-in group is checked or warned about.
        ("apis:\n  orders: {max_p95_ms: 50}\n  search: {min_success_rate: 99}\n", {"orders", "search"}),
        # Naming a built-in group beside its own keeps that one (with its built-in limits for the rest).
        ("apis:\n  orders: {max_p95_ms: 50}\n  auth: {max_p95_ms: 100}\n", {"orders", "auth"}),
        # Only built-in groups named: they are tuned, none is dropped.
        ("apis:\n  payments: {max_p95_ms: 250}\n", {"auth", "generation", "payments"}),
    ],
)
def test_a_file_with_groups_of_its_own_replaces_the_built_in_groups(tmp_path, text, groups):
    t = load_thresholds(write(tmp_path, text))
    assert set(t.apis) == groups
    if "orders" in groups:
        assert t.apis["orders"] == Limits(max_p95_ms=50.0)
    if "auth" in groups and "orders" in groups:
        assert t.apis["auth"] == Limits(min_success_rate=99.0, max_p95_ms=100.0)


@pytest.mark.parametrize(
    "override, expected",
    [
        ({"max_p95_ms": 100}, Limits(min_success_rate=99.0, max_p95_ms=100.0)),
        ({"min_success_rate": None}, Limits(max_p95_ms=200.0)),
        ({"min_rps": 5}, Limits(min_success_rate=99.0, max_p95_ms=200.0, min_rps=5.0)),
    ],
)
def test_endpoint_override_changes_its_group_limits(override, expected):
    t = parse_thresholds({"endpoints": {"GET /health": override}})
    assert t.limits_for("GET /health", "auth") == expected


def test_group_min_rps_applies_to_the_group_not_to_each_endpoint():
    t = parse_thresholds({"apis": {"auth": {"min_rps": 50}}})
    assert t.limits_for("POST /login", "auth").min_rps is None
    assert t.apis["auth"].min_rps == 50.0


def test_endpoint_of_an_unlimited_group_without_override_has_no_limits():
    assert Thresholds().limits_for("GET /x", "other") is None


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "apis:\n  auth: {max_p59_ms: 100}\n",
            "unknown key 'max_p59_ms' in apis.auth (did you mean 'max_p95_ms'?)",
        ),
        ("warmup: 5\n", "unknown key 'warmup' at the top level (did you mean 'warmup_s'?)"),
        ("generation: {target: 10}\n", "unknown key 'target' in generation (did you mean 'target_per_s'?)"),
        (
            "regression: {min_efect_ms: 3}\n",
            "unknown key 'min_efect_ms' in regression (did you mean 'min_effect_ms'?)",
        ),
        (
            'endpoints:\n  "GET /health": {max_p95: 100}\n',
            "unknown key 'max_p95' in endpoints.\"GET /health\" (did you mean 'max_p95_ms'?)",
        ),
        ("colour: blue\n", "unknown key 'colour' at the top level"),
        ("apis:\n  auth: {max_p95_ms: fast}\n", "apis.auth.max_p95_ms must be a number, not 'fast'"),
        ("min_samples: yes\n", "min_samples must be a whole number, 0 or more, not True"),
        ("min_samples: 2.5\n", "min_samples must be a whole number, 0 or more, not 2.5"),
        ("min_samples: -1\n", "min_samples must be a whole number, 0 or more, not -1"),
        (
            "apis:\n  auth: {min_success_rate: 120}\n",
            "apis.auth.min_success_rate is 120 but must be between 0 and 100",
        ),
        (
            "apis:\n  payments: {min_success_rate: -1}\n",
            "apis.payments.min_success_rate is -1 but must be between 0 and 100",
        ),
        ("apis:\n  auth: {max_p95_ms: -5}\n", "apis.auth.max_p95_ms is -5 but must be 0 or more"),
        (
            'endpoints:\n  "GET /health": {max_ms: -0.5}\n',
            'endpoints."GET /health".max_ms is -0.5 but must be 0 or more',
        ),
        ("warmup_s: -1\n", "warmup_s is -1 but must be 0 or more"),
        ("max_cpu_percent: 150\n", "max_cpu_percent is 150 but must be between 0 and 100"),
        (
            "generation: {min_throughput_ratio: 1.5}\n",
            "generation.min_throughput_ratio is 1.5 but must be between 0 and 1",
        ),
        ("regression: {min_effect_ms: -1}\n", "regression.min_effect_ms is -1 but must be 0 or more"),
        (
            "regression: {false_positive_rate: 1}\n",
            "regression.false_positive_rate is 1.0 but must be above 0 and below 1, e.g. 0.05",
        ),
        ("regression: {windows: 4}\n", "regression.windows is 4 but must be 5 or more"),
        (
            "regression: {run_to_run_percent: -2}\n",
            "regression.run_to_run_percent is -2 but must be between 0 and 100",
        ),
        (
            "regression: {run_to_run_percent: 5%}\n",
            "regression.run_to_run_percent must be a number, not '5%'",
        ),
        (
            "regression: {run_to_run_percent: .inf}\n",
            "regression.run_to_run_percent must be a number, not inf",
        ),
        (
            "regression: {run_to_run: 5}\n",
            "unknown key 'run_to_run' in regression (did you mean 'run_to_run_percent'?)",
        ),
        (
            "generation: {max_throughput_ratio: 0.9}\n",
            "generation.max_throughput_ratio is 0.9 but must be 1 or more",
        ),
        ("load: {window: 10}\n", "unknown key 'window' in load (did you mean 'window_s'?)"),
        ("load: {window_s: 2.5}\n", "load.window_s must be a whole number of seconds, 1 or more, not 2.5"),
        ("load: {window_s: 0}\n", "load.window_s must be a whole number of seconds, 1 or more, not 0"),
        ("load: {tolerance: 5}\n", "load.tolerance is 5 but must be between 0 and 1"),
        ("load: {latency: sent}\n", "load.latency is 'sent' but must be one of scheduled, service"),
        ("load: {max_loop_lag_ms: -1}\n", "load.max_loop_lag_ms is -1 but must be 0 or more"),
        ("apis:\n  auth: 5\n", "apis.auth must be a mapping of keys to values, not 5"),
        ("apis: [auth]\n", "apis must be a mapping of keys to values, not a list"),
        ("- auth\n", "the file must be a mapping of keys to values, not a list"),
        (
            "endpoints:\n  health: {max_p95_ms: 100}\n",
            'endpoint key \'health\' in endpoints must be "METHOD name", e.g. "GET /health"',
        ),
    ],
)
def test_bad_file_is_one_line_naming_file_key_and_place(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(HarnessError) as caught:
        load_thresholds(path)
    assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize("key", ["p95_factor", "p95_slack_ms"])
def test_keys_of_the_rule_based_regression_check_are_a_clear_error(tmp_path, key):
    # Their meaning (p95 ≤ factor × baseline + slack) cannot be carried over to the statistical
    # comparison; silently dropping them would change what the file asks for.
    path = write(tmp_path, f"regression: {{{key}: 1.2}}\n")
    with pytest.raises(HarnessError) as caught:
        load_thresholds(path)
    assert str(caught.value) == (
        f"{path}: regression.{key} is no longer used: a run is now compared with its "
        f"baseline statistically; set regression.min_effect_percent and "
        f"regression.min_effect_ms instead (docs/baselines.md)"
    )


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "warmup_s: 5\napis:\n  auth: {max_p95_ms: [\n")
    with pytest.raises(HarnessError) as caught:
        load_thresholds(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: invalid YAML at line ") and "\n" not in text


def test_missing_file(tmp_path):
    with pytest.raises(HarnessError, match="thresholds file not found"):
        load_thresholds(tmp_path / "nope.yaml")


def test_points_give_every_limit_in_force_per_scope():
    t = parse_thresholds({"endpoints": {"GET /health": {"max_p95_ms": 100}}})
    rows = thresholds_as_points(t)
    assert {
        "scope": "api:payments",
        "api": "payments",
        "endpoint": "",
        "metric": "p95",
        "value": 300.0,
    } in rows
    assert {
        "scope": "api:auth",
        "api": "auth",
        "endpoint": "",
        "metric": "success_rate",
        "value": 99.0,
    } in rows
    assert {
        "scope": "GET /health",
        "api": "",
        "endpoint": "GET /health",
        "metric": "p95",
        "value": 100.0,
    } in rows
    assert {
        "scope": "api:generation",
        "api": "generation",
        "endpoint": "",
        "metric": "throughput",
        "value": 9.5,
    } in rows
    assert {
        "scope": "api:generation",
        "api": "generation",
        "endpoint": "",
        "metric": "throughput_max",
        "value": 10.5,
    } in rows
    assert len(rows) == 9


def test_points_resolve_overrides_against_their_group_and_the_runs_target():
    t = parse_thresholds({"endpoints": {"GET /health": {"max_p95_ms": 100}}})
    rows = thresholds_as_points(t, endpoint_apis={"GET /health": "auth"}, generation_target=20)
    health = {r["metric"]: r["value"] for r in rows if r["endpoint"] == "GET /health"}
    assert health == {"success_rate": 99.0, "p95": 100.0}
    assert all(r["api"] == "auth" for r in rows if r["endpoint"] == "GET /health")
    assert [r["value"] for r in rows if r["metric"] == "throughput"] == [19.0]
    assert [r["value"] for r in rows if r["metric"] == "throughput_max"] == [21.0]


def test_no_throughput_row_without_a_target():
    t = parse_thresholds({"generation": {"target_per_s": 0}})
    assert not [r for r in thresholds_as_points(t) if r["metric"].startswith("throughput")]


def test_built_in_load_defaults():
    load = Thresholds().load
    assert (load.window_s, load.tolerance, load.max_loop_lag_ms, load.latency) == (
        10.0,
        0.05,
        100.0,
        "scheduled",
    )
    assert Thresholds().generation.max_throughput_ratio == 1.05


def test_load_keys_in_the_file(tmp_path):
    t = load_thresholds(
        write(
            tmp_path,
            "load: {window_s: 5, tolerance: 0.1, latency: service, "
            "max_loop_lag_ms: null}\ngeneration: {max_throughput_ratio: null}\n",
        )
    )
    assert (t.load.window_s, t.load.tolerance, t.load.latency, t.load.max_loop_lag_ms) == (
        5.0,
        0.1,
        "service",
        None,
    )
    assert t.generation.max_throughput_ratio is None


def test_to_dict_rebuilds_the_same_thresholds(tmp_path):
    t = load_thresholds(
        write(
            tmp_path,
            "apis:\n  auth: {max_p95_ms: null, max_p99_ms: 300}\n"
            "endpoints:\n  'GET /health': {min_success_rate: null}\n"
            "load: {window_s: 20, latency: service}\n",
        )
    )
    data = t.to_dict()
    assert data["source"] == str(tmp_path / "baselines.yaml")
    rebuilt = parse_thresholds({k: v for k, v in data.items() if k != "source"}, source=t.source)
    assert rebuilt == t

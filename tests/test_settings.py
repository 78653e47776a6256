"""Run settings: defaults < .env.load-testing < environment < flags, and every bad value."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from harness import settings
from harness.errors import HarnessError
from harness.settings import PARAMS, Settings, add_arguments, read_env_file, resolve
from tests.helpers import parse_flags

REPO = Path(__file__).resolve().parents[1]


def env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env.load-testing"
    path.write_text(text, encoding="utf-8")
    return path


def test_built_in_defaults():
    s = resolve(None, {}, None)
    assert (s.users, s.spawn_rate, s.run_time_s, s.test_env, s.target_host) == (20, 10.0, 60, "local", "")
    assert (s.influx_url, s.influx_db, s.influx_token) == ("http://127.0.0.1:8086", "loadtest", "")
    assert (s.thresholds_file, s.out_dir) == ("baselines.yaml", Path("load_test_reports"))
    assert (s.generation_target_per_s, s.seed_users, s.processes, s.description) == (10.0, 0, 1, "")
    assert set(s.sources.values()) == {"default"}


def test_the_table_and_the_settings_class_name_the_same_parameters():
    assert [p.name for p in PARAMS] == [f.name for f in dataclasses.fields(Settings)][:-1]


def test_repo_env_file_holds_every_parameter_with_its_default():
    found = read_env_file(REPO / ".env.load-testing")
    taken = [p for p in PARAMS if set(p.used_by) & set(settings.COMMANDS)]  # the file is the commands'
    assert list(found) == [p.env for p in taken]
    assert {k: v for k, (v, _) in found.items()} == {p.env: p.default for p in taken}
    assert resolve(None, {}, REPO / ".env.load-testing") == resolve(None, {}, None)


@pytest.mark.parametrize(
    "file, environ, flags, users, source",
    [
        ("", {}, [], 20, "default"),
        ("USERS=30\n", {}, [], 30, ".env.load-testing:1"),
        ("USERS=30\n", {"USERS": "40"}, [], 40, "environment"),
        ("USERS=30\n", {"USERS": "40"}, ["--users", "50"], 50, "flag"),
        ("", {}, ["--users", "50"], 50, "flag"),
        ("USERS=30\n", {"USERS": ""}, [], 30, ".env.load-testing:1"),  # blank env = not set
        ("USERS=30\n", {"USERS": "40"}, ["--users", ""], 40, "environment"),  # blank flag = not set
        ("USERS=\n", {}, [], 20, "default"),  # blank line value = not set
    ],
)
def test_precedence(tmp_path, monkeypatch, file, environ, flags, users, source):
    monkeypatch.chdir(tmp_path)
    s = resolve(parse_flags(*flags), environ, env_file(tmp_path, file))
    assert (s.users, s.sources["users"]) == (users, source)


def test_environment_reads_only_known_keys():
    s = resolve(None, {"USER": "root", "PATH": "/bin", "RUN_TIME": "2m"}, None)
    assert s.run_time_s == 120 and s.sources["run_time_s"] == "environment"


def test_env_file_flag_replaces_the_callers_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    staging = tmp_path / "staging.env"
    staging.write_text("TEST_ENV=staging\n")
    s = resolve(parse_flags("--env-file", str(staging)), {}, env_file(tmp_path, "TEST_ENV=local\n"))
    assert s.test_env == "staging"


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90", 90),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2m30s", 150),
        ("1h0m5s", 3605),
        ("5M", 300),
    ],
)
def test_durations(text, seconds):
    assert resolve(None, {"RUN_TIME": text}, None).run_time_s == seconds


@pytest.mark.parametrize(
    "flags, environ, message",
    [
        (["--users", "ten"], {}, "--users: 'ten' is not a whole number"),
        (["--users", "-5"], {}, "--users: '-5' must be 1 or more"),
        (["--users", "0"], {}, "--users: '0' must be 1 or more"),
        (["--users", "2.5"], {}, "--users: '2.5' is not a whole number"),
        ([], {"USERS": "many"}, "USERS from the environment: 'many' is not a whole number"),
        (["--spawn-rate", "0"], {}, "--spawn-rate: '0' must be more than 0"),
        (["--spawn-rate", "fast"], {}, "--spawn-rate: 'fast' is not a number"),
        (["--spawn-rate", "nan"], {}, "--spawn-rate: 'nan' is not a finite number"),
        (["--run-time", "5 minutes"], {}, "--run-time: '5 minutes' is not a duration (use 30s, 5m, 1h30m)"),
        (["--run-time", "1.5m"], {}, "--run-time: '1.5m' is not a duration (use 30s, 5m, 1h30m)"),
        (["--run-time", "-5"], {}, "--run-time: '-5' is not a duration (use 30s, 5m, 1h30m)"),
        (["--run-time", "0s"], {}, "--run-time: '0s' must be longer than 0 seconds"),
        (
            ["--target-host", "localhost:8080"],
            {},
            "--target-host: 'localhost:8080' is not an http(s) URL (e.g. http://127.0.0.1:8080)",
        ),
        (
            [],
            {"INFLUX_URL": "ftp://x"},
            "INFLUX_URL from the environment: 'ftp://x' is not an http(s) URL (e.g. http://127.0.0.1:8080)",
        ),
        (
            ["--influx-url", "http://h:99999"],
            {},
            "--influx-url: 'http://h:99999' is not an http(s) URL (e.g. http://127.0.0.1:8080)",
        ),
        (["--generation-target-per-s", "-1"], {}, "--generation-target-per-s: '-1' must be 0 or more"),
        (["--seed-users", "-1"], {}, "--seed-users: '-1' must be 0 or more"),
        (["--processes", "0"], {}, "--processes: '0' must be 1 or more"),
    ],
)
def test_bad_values_name_parameter_source_and_value(flags, environ, message):
    with pytest.raises(HarnessError) as caught:
        resolve(parse_flags(*flags), environ, None)
    assert str(caught.value) == message


def test_bad_value_in_the_file_names_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = env_file(tmp_path, "# settings\nUSERS=20\nRUN_TIME=5 minutes\n")
    with pytest.raises(HarnessError) as caught:
        resolve(None, {}, path)
    assert str(caught.value) == (
        "RUN_TIME from .env.load-testing:3: '5 minutes' is not a duration (use 30s, 5m, 1h30m)"
    )


def test_a_good_flag_hides_a_bad_lower_layer_only_if_it_overrides_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = env_file(tmp_path, "USERS=ten\n")
    assert resolve(parse_flags("--users", "3"), {}, path).users == 3


@pytest.mark.parametrize(
    "text, expected",
    [
        ("TEST_ENV=staging\n", "staging"),
        ("TEST_ENV = staging\n", "staging"),
        ("export TEST_ENV=staging\n", "staging"),
        ('TEST_ENV="staging"\n', "staging"),
        ("TEST_ENV='staging'  # a comment\n", "staging"),
        ("TEST_ENV=staging # a comment\n", "staging"),
        ("\n# comment\n   \nTEST_ENV=staging\n", "staging"),
        ('DESCRIPTION="release #42"\nTEST_ENV=x\n', "x"),
    ],
)
def test_env_file_syntax(tmp_path, text, expected):
    assert resolve(None, {}, env_file(tmp_path, text)).test_env == expected


def test_quoted_hash_is_kept_and_an_unquoted_fragment_too(tmp_path):
    s = resolve(
        None, {}, env_file(tmp_path, 'DESCRIPTION="release #42"\nTARGET_HOST=http://127.0.0.1:8080/#x\n')
    )
    assert (s.description, s.target_host) == ("release #42", "http://127.0.0.1:8080/#x")


@pytest.mark.parametrize(
    "text, message",
    [
        ("USERS=20\nUSRES=30\n", ".env.load-testing:2: unknown key 'USRES' (did you mean 'USERS'?)"),
        ("COLOUR=blue\n", ".env.load-testing:1: unknown key 'COLOUR'"),
        ("USERS 20\n", ".env.load-testing:1: expected KEY=VALUE, got 'USERS 20'"),
        ("USERS=1\nUSERS=2\n", ".env.load-testing:2: USERS is set twice (first at .env.load-testing:1)"),
        ('DESCRIPTION="open\n', '.env.load-testing:1: DESCRIPTION has an opening " but no closing one'),
        ("DESCRIPTION='a' b\n", ".env.load-testing:1: DESCRIPTION has text after its closing quote: 'b'"),
    ],
)
def test_bad_env_file(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HarnessError) as caught:
        resolve(None, {}, env_file(tmp_path, text))
    assert str(caught.value) == message


def test_missing_env_file_given_explicitly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HarnessError, match="nope.env: settings file not found"):
        resolve(None, {}, tmp_path / "nope.env")


def test_default_env_file_is_found_only_when_present(tmp_path):
    assert settings.default_env_file(tmp_path) is None
    env_file(tmp_path, "")
    assert settings.default_env_file(tmp_path) == tmp_path / ".env.load-testing"


def test_secrets_are_never_echoed():
    s = resolve(None, {"INFLUX_TOKEN": "s3cret-token", "INFLUX_PASSWORD": "pw-123"}, None)
    assert s.influx_token == "s3cret-token"
    assert "s3cret" not in repr(s) and "pw-123" not in repr(s)
    public = s.public_dict()
    assert (public["INFLUX_TOKEN"], public["INFLUX_PASSWORD"], public["USERS"]) == ("***", "***", 20)


def test_every_parameter_of_harness_run_has_a_flag_that_defaults_to_not_set():
    args = parse_flags()
    for p in settings.params_for(settings.RUN):
        assert getattr(args, p.dest) is None
    help_text = argparse.ArgumentParser()
    add_arguments(help_text)
    text = help_text.format_help()
    assert all(p.flag in text for p in settings.params_for(settings.RUN)) and "--env-file" in text


def test_harness_settings_shows_each_value_where_it_came_from_and_hides_secrets(
    tmp_path, monkeypatch, capsys
):
    from harness import cli

    monkeypatch.chdir(tmp_path)
    env_file(tmp_path, "RUN_TIME=5m\n")
    monkeypatch.setenv("USERS", "7")
    monkeypatch.setenv("INFLUX_PASSWORD", "pw-123")
    assert cli.main(["settings"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["USERS"][1:3] == ["7", "environment"]
    assert rows["RUN_TIME"][1:3] == ["300", ".env.load-testing:1"]
    assert rows["INFLUX_PASSWORD"][1:3] == ["***", "environment"]
    assert rows["INFLUX_URL"][-7:] == [
        "run,",
        "check,",
        "report,",
        "flush,",
        "preflight,",
        "history,",
        "locust",
    ]

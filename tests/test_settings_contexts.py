"""One setting, one meaning: every setting the table (harness.settings.PARAMS) marks as taken in
more than one place gives the same value in each — the harness commands, plain Locust with the
listener, and the Locust that ``harness run`` starts — whether it comes from the environment, a
flag, a blank value or nothing at all."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import build_parser
from harness.locust_process import locust_command, locust_environment
from harness.settings import COMMANDS, LOCUST, PARAMS, RUN, params_for, resolve
from tests.helpers import ROOT

# A value other than the default for every setting taken in more than one place. A setting that
# gains a second place needs one here (test_every_shared_setting_has_a_sample says so).
SAMPLES = {
    "RUN_ID": "ctx-run.1",
    "TEST_ENV": "staging",
    "TARGET_HOST": "http://127.0.0.1:8080",
    "INFLUX_URL": "http://127.0.0.1:18612",
    "INFLUX_DB": "other_db",
    "INFLUX_TOKEN": "s3cret-token",
    "INFLUX_USER": "loader",
    "INFLUX_PASSWORD": "pw-123",
    "INFLUX_RUNS_RP": "forever",
    "INFLUX_SPOOL_DIR": "/tmp/elsewhere/spool",
    "INFLUX_BATCH_SIZE": "250",
    "INFLUX_FLUSH_TIMEOUT": "2.5",
    "INFLUX_MAX_PENDING": "1000",
    "INFLUX_POINTS": "sketches",
    "THRESHOLDS_FILE": "mine.yaml",
    "OUT_DIR": "reports",
    "GENERATION_TARGET_PER_S": "2.5",
    "ABORT_ON_FAIL": "true",
}
SHARED = [p for p in PARAMS if len(p.used_by) > 1]
# (case, the setting's environment variable: absent / the sample / its default text / blank,
#  the flag: absent / the sample)
CASES = [
    ("nothing set", None, False),
    ("environment", "sample", False),
    ("flag over environment", "default", True),
    ("blank environment", "blank", False),
]

# Locust's parser in a process of its own: Locust monkey-patches the standard library with gevent
# when imported, which must not happen inside the test session. One process parses every case.
LOCUST_PARSER = """
import json, os, sys
from locust.argument_parser import get_parser
import harness.listener  # adds the listener's options to Locust's parser, as a locustfile does
from harness.listener.options import test_env
from harness.settings import PARAMS, LOCUST, params_for
results = []
for environ, argv in json.load(sys.stdin):
    os.environ.clear()
    os.environ.update(environ)
    options = get_parser(default_config_files=[]).parse_args(["-f", "locustfile.py", *argv])
    results.append({p.env: test_env(options) if p.env == "TEST_ENV" else getattr(options, p.dest)
                    for p in params_for(LOCUST)})
print(json.dumps(results))
"""


@pytest.fixture(scope="module", autouse=True)
def no_settings_in_the_environment():
    """The cases set one setting each; none may come from the shell that runs the tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [p.env for p in PARAMS] + ["LOCUST_TEST_ENV"]:
            patch.delenv(name, raising=False)
        yield


def case_input(p, env_case: str | None, with_flag: bool) -> tuple[dict[str, str], list[str]]:
    """(environment, flags) for one case: only this setting is set, nothing else."""
    base = dict(os.environ)
    if env_case is not None:
        base[p.env] = {"sample": SAMPLES[p.env], "default": p.default, "blank": ""}[env_case]
    return base, [f"{p.flag}={SAMPLES[p.env]}"] if with_flag else []


def in_command(command: str, p, environ: dict[str, str], flags: list[str]):
    args = build_parser().parse_args([command, *flags])
    return getattr(resolve(args, environ, None), p.name)


def handed_over(p, environ: dict[str, str], flags: list[str]) -> tuple[object, tuple[dict, list[str]]]:
    """(what ``harness run`` took, the environment and listener arguments of the Locust it starts)."""
    resolved = resolve(build_parser().parse_args(["run", *flags]), environ, None)
    run_id = resolved.run_id or "made-by-harness-run"  # harness run makes one when none is set
    command = locust_command(resolved, "http://127.0.0.1:8080", run_id, Path("out"))
    child_env = locust_environment(resolved, None, None)
    took = run_id if p.env == "RUN_ID" else getattr(resolved, p.name)
    return took, (child_env, command[command.index("--host") :])


LOCUST_CASES = [(p, case) for p in SHARED if LOCUST in p.used_by for case in CASES]


@pytest.fixture(scope="module")
def parsed_by_locust():
    """{(setting, case, "locust" | "harness run"): the listener's value}."""
    keys, inputs = [], []
    for p, (case, env_case, with_flag) in LOCUST_CASES:
        environ, flags = case_input(p, env_case, with_flag)
        keys.append((p.env, case, "locust"))
        inputs.append((environ, flags))
        if RUN in p.used_by:
            keys.append((p.env, case, "harness run"))
            inputs.append(handed_over(p, environ, flags)[1])
    proc = subprocess.run(
        [sys.executable, "-c", LOCUST_PARSER],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {key: result[key[0]] for key, result in zip(keys, json.loads(proc.stdout))}


@pytest.mark.parametrize("p", SHARED, ids=lambda p: p.env)
@pytest.mark.parametrize("case, env_case, with_flag", CASES, ids=[c[0] for c in CASES])
def test_a_shared_setting_means_the_same_everywhere(p, case, env_case, with_flag, parsed_by_locust):
    environ, flags = case_input(p, env_case, with_flag)
    want = p.value(SAMPLES[p.env] if with_flag else environ.get(p.env, p.default))
    seen = {command: in_command(command, p, environ, flags) for command in COMMANDS if command in p.used_by}
    if LOCUST in p.used_by:
        seen["locust"] = parsed_by_locust[(p.env, case, "locust")]
    assert seen == dict.fromkeys(seen, want), f"{p.env} ({case})"
    if RUN in p.used_by and LOCUST in p.used_by:
        took, _ = handed_over(p, environ, flags)
        got = parsed_by_locust[(p.env, case, "harness run")]
        assert got == took, f"{p.env} ({case}): harness run took {took!r}, the Locust it started got {got!r}"


def test_blank_means_not_set_except_where_the_table_says_it_is_a_value():
    runs_rp = next(p for p in PARAMS if p.env == "INFLUX_RUNS_RP")
    spool = next(p for p in PARAMS if p.env == "INFLUX_SPOOL_DIR")
    environ = {"INFLUX_RUNS_RP": "", "INFLUX_SPOOL_DIR": ""}
    for command in ("run", "check", "report", "preflight"):
        assert in_command(command, runs_rp, environ, []) == ""  # the database's default policy
    assert in_command("flush", spool, environ, []) == ".state/spool"


def test_every_shared_setting_has_a_sample():
    missing = [p.env for p in SHARED if p.env not in SAMPLES]
    assert not missing, f"add a sample value to SAMPLES for {missing}"
    assert all(p.value(SAMPLES[p.env]) != p.value(p.default) for p in SHARED)


def test_every_command_takes_the_settings_the_table_gives_it(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        help_text = capsys.readouterr().out
        for p in PARAMS:
            assert (p.flag in help_text) == (command in p.used_by), f"{p.flag} in harness {command} --help"


def test_listener_values_travel_from_master_to_workers():
    # Locust sends the master's parsed options to its workers (msgpack): plain values only.
    for p in params_for(LOCUST):
        assert isinstance(p.value(p.default), (str, int, float, bool)), p.env


def test_harness_run_keeps_secrets_off_the_command_line():
    environ = {"INFLUX_TOKEN": "s3cret-token", "INFLUX_PASSWORD": "pw-123"}
    resolved = resolve(build_parser().parse_args(["run"]), environ, None)
    command = shlex.join(locust_command(resolved, "http://127.0.0.1:8080", "r", Path("out")))
    assert "s3cret" not in command and "pw-123" not in command
    child_env = locust_environment(resolved, None, None)
    assert (child_env["INFLUX_TOKEN"], child_env["INFLUX_PASSWORD"]) == ("s3cret-token", "pw-123")

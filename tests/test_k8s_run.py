"""The manifests run: the ci overlay's Jobs and the operator example's LocustTest, rendered by
kustomize and started as local processes with each container's own command, args and environment
(tests/k8s_local.py; the mapping is in docs/kubernetes.md). The master's exit code is the verdict and
its termination message holds the verdict's line, as a Job and the operator would see them."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.sandbox.process import start_subprocess, stop_subprocess
from tests.conftest import require
from tests.k8s_local import K8S, job_pods, kubectl, operator_pods, render

pytestmark = [pytest.mark.influx, pytest.mark.slow]

RUN_TIME = "15s"  # long enough for the 5 s warm-up and 20 requests of every endpoint after it
KILL_AT_S = 8.0
# A worker quits when its master tells it to; under the operator (web-UI mode) only after its own
# stop timeout (10 s), and at worst after Locust's 60 s without the master's heartbeat.
WORKERS_QUIT_S = 75.0
SECRET = {"influxdb-credentials": {"token": "", "username": "", "password": ""}}  # local influxd: no auth

SETUPS = {
    "jobs (ci overlay)": (K8S / "overlays" / "ci", job_pods, "locust-master", "locust-worker"),
    "operator LocustTest": (K8S / "operator", operator_pods, "loadtest-master", "loadtest-worker"),
}
CASES = {
    "healthy": ([], None),
    "payments failing": (["payments:error_rate=0.5"], None),
    "a worker killed": ([], KILL_AT_S),
}


def run_fleet(
    setup: str,
    faults: list[str],
    kill_at: float | None,
    influxd,
    db: str,
    tmp_path: Path,
    workers_quit_s: float,
):
    """Master and workers of the render, against the sandbox; returns (master, its stderr, workers)."""
    require("kubectl", kubectl() is not None, "kubectl with kustomize built in (Kubernetes' own client)")
    directory, make_pods, master_name, worker_name = SETUPS[setup]
    sandbox, host = start_subprocess(port=0, faults=faults)
    overrides = {"LOCUST_HOST": host, "INFLUX_URL": influxd.url, "INFLUX_DB": db, "LOCUST_RUN_TIME": RUN_TIME}
    pods = make_pods(render(directory), tmp_path, secrets=SECRET, overrides=overrides)
    master_pod, worker_pod = pods[master_name], pods[worker_name]
    procs: list[subprocess.Popen] = []
    try:
        master = master_pod.start(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(master)
        workers = [
            worker_pod.start(i, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i in range(worker_pod.replicas)
        ]
        procs += workers
        if kill_at is not None:
            time.sleep(kill_at)
            workers[-1].send_signal(signal.SIGKILL)  # no final flush, no goodbye: an OOM kill or a lost node
        out, err = master.communicate(timeout=150)
        deadline = time.monotonic() + workers_quit_s
        while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        stop_subprocess(sandbox)
    return master, out + err, workers, master_pod


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("setup", SETUPS)
def test_the_masters_exit_code_and_termination_message_are_the_verdict(
    setup, case, influxd, influx_db, tmp_path
):
    faults, kill_at = CASES[case]
    master, output, workers, pod = run_fleet(
        setup,
        faults,
        kill_at,
        influxd,
        influx_db.settings.database,
        tmp_path,
        WORKERS_QUIT_S if case == "healthy" else 0,
    )
    message = pod.termination_file.read_text().strip()
    run_id = re.search(r"run=(\S+)", message)
    assert run_id, message
    assert f"verdict: {message.split()[0]} (run {run_id.group(1)}" in output, output[-3000:]
    verdict_json = pod.mounts["/work"] / "reports" / run_id.group(1) / "verdict.json"  # OUT_DIR=/work/reports
    assert verdict_json.exists(), output[-3000:]
    if case == "healthy":
        assert master.returncode == 0, output[-3000:]
        assert message.startswith(f"PASS run={run_id.group(1)} exit=0"), message
        assert [w.returncode for w in workers] == [0] * len(workers)  # the worker Job completes
    elif case == "payments failing":
        assert master.returncode == 1, output[-3000:]
        assert message.startswith("FAIL ") and "payments" in message, message
        assert "auth" not in message and "generation" not in message, message  # only what failed is named
    else:
        assert master.returncode == 2, output[-3000:]
        missing = re.findall(r"Worker (\S+) failed to send heartbeat", output)
        assert len(missing) == 1, output[-3000:]
        assert message.startswith("INCONCLUSIVE ") and f"worker {missing[0]}" in message, message

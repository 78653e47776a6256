"""deploy/k8s without a cluster: every overlay renders with kustomize and every object validates
strictly against the Kubernetes 1.31 schemas (kubernetes-validate ships them); the Jobs carry the
verdict (pod failure policy, termination message, --verdict); the operator's LocustTest validates
against the operator's own CRD schema (../shared/k8s, not copied here)."""

from __future__ import annotations

import copy
import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest
import yaml

from harness.verdict import load_thresholds
from tests.conftest import require
from tests.k8s_local import K8S, ROOT, find, kubectl, operator_commands, render

KUBERNETES = "1.31"
OVERLAYS = ["ci", "staging"]
JOB_RENDERS = [f"overlays/{name}" for name in OVERLAYS]
CRD = ROOT.parent / "shared" / "k8s" / "locust.io_locusttests.yaml"
RENDERS = {**{name: K8S / name for name in JOB_RENDERS}, "operator": K8S / "operator"}


@pytest.fixture(scope="module")
def rendered():
    require("kubectl", kubectl() is not None, "kubectl with kustomize built in (Kubernetes' own client)")
    return {name: render(path) for name, path in RENDERS.items()}


def container(job: dict) -> dict:
    (only,) = job["spec"]["template"]["spec"]["containers"]
    return only


def test_every_overlay_passes_kubernetes_validate_strict_as_a_user_runs_it():
    """The command docs/kubernetes.md gives, exactly: kustomize's output piped into kubernetes-validate."""
    require("kubectl", kubectl() is not None, "kubectl with kustomize built in (Kubernetes' own client)")
    for name in OVERLAYS:
        render_proc = subprocess.run(
            [kubectl(), "kustomize", str(K8S / "overlays" / name)], capture_output=True, text=True, timeout=60
        )
        assert render_proc.returncode == 0, render_proc.stderr
        check = subprocess.run(
            [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBERNETES, "-"],
            input=render_proc.stdout,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.count("passed for resource") == 5, check.stdout


@pytest.mark.parametrize("name", JOB_RENDERS)
def test_every_object_validates_strictly_and_a_typo_does_not(rendered, name):
    for obj in rendered[name]:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    job = copy.deepcopy(find(rendered[name], "Job", "locust-master"))
    job["spec"]["template"]["spec"]["containers"][0]["terminationMesagePath"] = "/dev/termination-log"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES, strict=True)


@pytest.mark.parametrize("name", JOB_RENDERS)
def test_the_master_job_carries_the_verdict(rendered, name):
    objects = rendered[name]
    master, workers = find(objects, "Job", "locust-master"), find(objects, "Job", "locust-worker")
    spec, pod = master["spec"], master["spec"]["template"]["spec"]
    args = container(master)["command"] + container(master)["args"]
    assert args[:1] == ["locust"] and {"--master", "--headless", "--verdict"} <= set(args)
    # The master waits for exactly the workers the worker Job starts.
    expected = [a for a in args if a.startswith("--expect-workers=")]
    assert expected == [f"--expect-workers={workers['spec']['parallelism']}"], args
    assert workers["spec"]["completions"] == workers["spec"]["parallelism"]
    assert pod["restartPolicy"] == "Never" and workers["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["backoffLimit"] == 0
    rules = {
        tuple(r["onExitCodes"]["values"]): r for r in spec["podFailurePolicy"]["rules"] if "onExitCodes" in r
    }
    assert (
        rules[(1,)]["action"] == "FailJob" and rules[(2,)]["action"] == "FailJob"
    )  # FAIL and INCONCLUSIVE apart
    assert all(r["onExitCodes"]["containerName"] == "master" for r in rules.values())
    assert container(master)["terminationMessagePath"] == "/dev/termination-log"


@pytest.mark.parametrize("name", list(RENDERS))
def test_influxdb_credentials_come_from_a_secret_never_a_literal(rendered, name):
    objects = rendered[name]
    for cm in (o for o in objects if o["kind"] == "ConfigMap"):
        assert not {"INFLUX_TOKEN", "INFLUX_PASSWORD"} & set(cm.get("data", {})), cm["metadata"]["name"]
    assert not [o for o in objects if o["kind"] == "Secret"], "the Secret is the user's, not the repository's"
    containers = [container(o) for o in objects if o["kind"] == "Job"] or [
        {"env": find(objects, "LocustTest")["spec"]["env"]["variables"]}
    ]
    for c in containers:
        secret_env = {e["name"]: e for e in c["env"] if e["name"] in ("INFLUX_TOKEN", "INFLUX_PASSWORD")}
        assert set(secret_env) == {"INFLUX_TOKEN", "INFLUX_PASSWORD"}
        assert all(
            "value" not in e and e["valueFrom"]["secretKeyRef"]["name"] == "influxdb-credentials"
            for e in secret_env.values()
        )


@pytest.mark.parametrize("name", JOB_RENDERS)
def test_the_headless_service_selects_the_master_pod_and_the_workers_find_it(rendered, name):
    objects = rendered[name]
    service = find(objects, "Service", "locust-master")
    assert service["spec"]["clusterIP"] == "None"
    labels = find(objects, "Job", "locust-master")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    worker_labels = find(objects, "Job", "locust-worker")["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= worker_labels.items()
    assert "--master-host=locust-master" in container(find(objects, "Job", "locust-worker"))["args"]


@pytest.mark.parametrize("name", list(RENDERS))
def test_the_config_map_holds_a_locustfile_with_the_listener_and_limits_the_verdict_reads(
    rendered, name, tmp_path
):
    files = next(o for o in rendered[name] if o["kind"] == "ConfigMap" and "locustfile.py" in o["data"])
    assert "harness.locustfile" in files["data"]["locustfile.py"]  # which imports harness.listener
    (tmp_path / "baselines.yaml").write_text(files["data"]["baselines.yaml"])
    assert load_thresholds(str(tmp_path / "baselines.yaml")).abort is not None


def test_the_staging_overlay_sets_users_rates_run_time_and_abort(rendered):
    settings = next(
        o for o in rendered["overlays/staging"] if o["kind"] == "ConfigMap" and "LOCUST_USERS" in o["data"]
    )
    data = settings["data"]
    assert (data["LOCUST_USERS"], data["RATES"], data["LOCUST_RUN_TIME"], data["ABORT_ON_FAIL"]) == (
        "200",
        "generation=10,payments=20",
        "10m",
        "true",
    )


# -- the operator's LocustTest ------------------------------------------------------------------------


def strict(schema):
    """The CRD's schema as the API server applies it with strict field validation: an object with
    declared properties takes no others (unless it says it keeps unknown fields)."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def locusttest_schema():
    require("the operator's CRD", CRD.is_file(), f"{CRD}: the clone needs ../shared/k8s beside it")
    crd = yaml.safe_load(CRD.read_text())
    (v2,) = [v for v in crd["spec"]["versions"] if v["name"] == "v2"]
    return strict(v2["schema"]["openAPIV3Schema"])


def test_the_locusttest_validates_against_the_operators_crd_and_a_typo_does_not(rendered, locusttest_schema):
    test = find(rendered["operator"], "LocustTest")
    assert test["apiVersion"] == "locust.io/v2"
    jsonschema.validate(test, locusttest_schema)
    typo = copy.deepcopy(test)
    typo["spec"]["master"]["extraArg"] = typo["spec"]["master"].pop("extraArgs")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, locusttest_schema)


def test_the_operators_master_runs_the_verdict_and_quits_when_the_run_ends(rendered):
    test = find(rendered["operator"], "LocustTest")
    master, worker = operator_commands(test["spec"], test["metadata"]["name"])
    assert master[:3] == ["locust", "-f", "/etc/loadtest/locustfile.py"] and "--verdict" in master
    assert master[master.index("--autoquit") + 1] == "0"
    assert f"--expect-workers={test['spec']['worker']['replicas']}" in master
    assert "--master-host=loadtest-master" in worker
    # The ConfigMaps' generated names reach the LocustTest (kustomizeconfig.yaml).
    names = {o["metadata"]["name"] for o in rendered["operator"] if o["kind"] == "ConfigMap"}
    assert test["spec"]["testFiles"]["configMapRef"] in names
    assert {r["name"] for r in test["spec"]["env"]["configMapRefs"]} <= names

"""Run rendered Kubernetes objects as local processes: a stand-in for the kubelet, for tests only.

What a pod would get, each container gets here: its command and args, its environment (``env``
values, Secret and ConfigMap key references, ``envFrom``), its ConfigMap volumes written to a
folder and its emptyDir volumes as empty folders (every path under a mount in an argument or a
variable points there), and ``parallelism`` copies of a Job's pod. What a cluster would provide
is mapped as docs/kubernetes.md ("Without a cluster") says:

- a Service's name is 127.0.0.1 (cluster DNS) and the master's port 5557 a free local port, in
  ``--master-host``/``--master-port`` and, for the master, ``LOCUST_MASTER_BIND_HOST``/``PORT``;
- the web UI (the operator runs the master without --headless) binds a free loopback port;
- the termination message file is a file in the pod's folder, handed over as TERMINATION_MESSAGE;
- ``overrides`` replace variables the test must change (the target, InfluxDB, the run time);
- ``locust`` is the one installed beside this Python (the image's, built from this checkout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.influx.local import free_port

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
MASTER_PORT = 5557


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render(directory: Path) -> list[dict]:
    """``kubectl kustomize DIRECTORY`` as a list of objects (it raises on a failed render)."""
    proc = subprocess.run(
        [kubectl() or "kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed: {proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def find(objects: list[dict], kind: str, name: str | None = None) -> dict:
    hits = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {len(hits)}"
    return hits[0]


@dataclass
class Pod:
    """One pod's container, ready to run locally."""

    name: str
    argv: list[str]
    env: dict[str, str]
    directory: Path
    termination_file: Path | None = None
    replicas: int = 1
    mounts: dict[str, Path] = field(default_factory=dict)

    def start(self, index: int = 0, **popen) -> subprocess.Popen:
        cwd = self.directory / f"cwd-{index}"  # no locust.conf or .env.load-testing of the checkout
        cwd.mkdir(exist_ok=True)
        return subprocess.Popen(self.argv, env=self.env, cwd=cwd, stdin=subprocess.DEVNULL, **popen)


def _config_maps(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}


def _localize(text: str, mounts: dict[str, Path]) -> str:
    for mount in sorted(mounts, key=len, reverse=True):
        if text == mount or text.startswith(mount + "/"):
            return str(mounts[mount]) + text[len(mount) :]
        if "=" in text:  # --flag=/mount/path
            flag, _, value = text.partition("=")
            if value == mount or value.startswith(mount + "/"):
                return f"{flag}={mounts[mount]}{value[len(mount) :]}"
    return text


def _env(container: dict, objects: list[dict], secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    config_maps = _config_maps(objects)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = config_maps[source["configMapRef"]["name"]]
        else:
            data = secrets.get(source["secretRef"]["name"], {})
        env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"].get("configMapKeyRef")
        store = secrets if "secretKeyRef" in item["valueFrom"] else config_maps
        value = store.get(ref["name"], {}).get(ref["key"])
        if value is None:
            assert ref.get("optional"), f"{item['name']}: {ref['name']}/{ref['key']} missing and not optional"
            continue
        env[item["name"]] = value
    return env


def pod_from_template(
    name: str,
    template: dict,
    objects: list[dict],
    directory: Path,
    *,
    secrets: dict[str, dict[str, str]],
    overrides: dict[str, str],
    services: set[str],
    master_port: int,
    replicas: int = 1,
) -> Pod:
    spec = template["spec"]
    assert len(spec["containers"]) == 1, "one container per pod"
    container = spec["containers"][0]
    pod_dir = directory / name
    pod_dir.mkdir(parents=True)
    config_maps = _config_maps(objects)
    mounts: dict[str, Path] = {}
    for volume in spec.get("volumes", []):
        local = pod_dir / "volumes" / volume["name"]
        local.mkdir(parents=True)
        if "configMap" in volume:
            for key, text in config_maps[volume["configMap"]["name"]].items():
                (local / key).write_text(text)
        else:
            assert "emptyDir" in volume, f"volume {volume['name']}: only configMap and emptyDir run locally"
        for mount in container.get("volumeMounts", []):
            if mount["name"] == volume["name"]:
                mounts[mount["mountPath"]] = local
    env = {k: _localize(v, mounts) for k, v in _env(container, objects, secrets).items()}
    argv = [_localize(a, mounts) for a in [*container.get("command", []), *container.get("args", [])]]
    argv = [_map_service(a, services, master_port) for a in argv]
    assert argv[0] == "locust", argv
    argv[0] = str(Path(sys.executable).parent / "locust")
    env.update(overrides)
    env.update(PATH=os.environ.get("PATH", ""), HOME=str(pod_dir), PYTHONUNBUFFERED="1")
    termination = None
    if "--worker" not in argv:
        env.update(
            LOCUST_MASTER_BIND_HOST="127.0.0.1",
            LOCUST_MASTER_BIND_PORT=str(master_port),
            LOCUST_WEB_HOST="127.0.0.1",
            LOCUST_WEB_PORT=str(free_port()),
        )
        termination = pod_dir / "termination-log"  # terminationMessagePath, as the kubelet provides it
        env["TERMINATION_MESSAGE"] = str(termination)
    return Pod(name, argv, env, pod_dir, termination, replicas, mounts)


def _map_service(arg: str, services: set[str], master_port: int) -> str:
    flag, eq, value = arg.partition("=")
    if eq and flag == "--master-host" and value in services:
        return f"{flag}=127.0.0.1"
    if eq and flag == "--master-port" and value == str(MASTER_PORT):
        return f"{flag}={master_port}"
    assert arg not in ("--master-host", "--master-port"), "use --flag=value, as the manifests do"
    return arg


def job_pods(objects: list[dict], directory: Path, *, secrets, overrides) -> dict[str, Pod]:
    """Every Job of a render as a Pod (``replicas``: its parallelism), keyed by the Job's name."""
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    port = free_port()
    return {
        job["metadata"]["name"]: pod_from_template(
            job["metadata"]["name"],
            job["spec"]["template"],
            objects,
            directory,
            secrets=secrets,
            overrides=overrides,
            services=services,
            master_port=port,
            replicas=int(job["spec"].get("parallelism", 1)),
        )
        for job in objects
        if job["kind"] == "Job"
    }


# -- locust-k8s-operator v2: the Jobs it makes from a LocustTest ---------------------------------------


def operator_commands(spec: dict, name: str) -> tuple[list[str], list[str]]:
    """The master's and the worker's command lines as the operator builds them
    (internal/resources/command.go, BuildMasterCommand and BuildWorkerCommand, commit 623c518)."""
    master, worker = spec["master"], spec["worker"]
    master_cmd = [
        *master["command"].split(),
        "--master",
        f"--master-port={MASTER_PORT}",
        f"--expect-workers={worker['replicas']}",
    ]
    if master.get("autostart", True):
        master_cmd.append("--autostart")
    autoquit = master.get("autoquit")
    if autoquit is None or autoquit["enabled"]:
        timeout = 60 if autoquit is None else autoquit.get("timeout", 60)
        master_cmd += ["--autoquit", str(timeout)]
    master_cmd += ["--enable-rebalancing", "--only-summary", *master.get("extraArgs", [])]
    worker_cmd = [
        *worker["command"].split(),
        "--worker",
        f"--master-port={MASTER_PORT}",
        f"--master-host={name}-master",
        *worker.get("extraArgs", []),
    ]
    return master_cmd, worker_cmd


def operator_templates(test: dict) -> dict[str, tuple[dict, int]]:
    """{"<name>-master"|"<name>-worker": (pod template, parallelism)} as the operator builds its Jobs
    (internal/resources/job.go and env.go: args = the command, env = the variables, envFrom = the
    ConfigMap refs, the test files' ConfigMap at srcMountPath, the user volumes by target)."""
    spec, name = test["spec"], test["metadata"]["name"]
    master_cmd, worker_cmd = operator_commands(spec, name)
    env = spec.get("env", {})
    templates = {}
    for mode, argv, replicas in (
        ("master", master_cmd, 1),
        ("worker", worker_cmd, spec["worker"]["replicas"]),
    ):
        node = f"{name}-{mode}"
        volumes, mounts = [], []
        files = spec.get("testFiles", {})
        if files.get("configMapRef"):
            volumes.append({"name": node, "configMap": {"name": files["configMapRef"]}})
            mounts.append({"name": node, "mountPath": files.get("srcMountPath", "/lotest/src")})
        chosen = [m for m in spec.get("volumeMounts", []) if m.get("target", "both") in (mode, "both")]
        mounts += [{k: v for k, v in m.items() if k != "target"} for m in chosen]
        volumes += [v for v in spec.get("volumes", []) if v["name"] in {m["name"] for m in chosen}]
        container = {
            "name": node,
            "args": argv,
            "env": env.get("variables", []),
            "envFrom": [
                {"configMapRef": {"name": r["name"]}, **({"prefix": r["prefix"]} if r.get("prefix") else {})}
                for r in env.get("configMapRefs", [])
            ]
            + [{"secretRef": {"name": r["name"]}} for r in env.get("secretRefs", [])],
            "volumeMounts": mounts,
        }
        templates[node] = ({"spec": {"containers": [container], "volumes": volumes}}, replicas)
    return templates


def operator_pods(objects: list[dict], directory: Path, *, secrets, overrides) -> dict[str, Pod]:
    test = find(objects, "LocustTest")
    name = test["metadata"]["name"]
    port = free_port()
    return {
        node: pod_from_template(
            node,
            template,
            objects,
            directory,
            secrets=secrets,
            overrides=overrides,
            services={f"{name}-master"},
            master_port=port,
            replicas=replicas,
        )
        for node, (template, replicas) in operator_templates(test).items()
    }

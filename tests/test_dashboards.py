"""Grafana as code: the dashboards, their provisioning and the monitoring compose stack.

First offline: valid JSON, pinned uids, one datasource uid everywhere, a query in every panel, the
provisioning keys Grafana reads, the compose file against the compose-spec schema. Then the real
thing: a short Locust run with injected payment errors is stored in a real influxd and judged, every
panel, annotation and variable query is run against it with Grafana's macros filled in, and after
the raw points are deleted every history query still answers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from harness.history.changepoints import Shift
from harness.history.runs import ChangePoint, RunValue, store_change_points
from harness.influx import datamodel
from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.datamodel import event_line, run_data_source as source
from harness.verdict.judge import judge
from harness.verdict.model import Verdict
from harness.verdict.rules.thresholds import Thresholds, load_thresholds
from tests import dashboard_queries as dq
from tests.helpers import DASHBOARD_FILES, ROOT, load_dashboards, require

DATASOURCE = {"type": "influxdb", "uid": "loadtest-influxdb"}
COMPOSE = ROOT / "docker-compose.monitoring.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# "-" and "." are valid in run ids and are exactly what Grafana's escaping used to trip over.
RUN_ID = "20260101T000000Z-dash.1"
BASE_RUN_ID = "20251231T120000Z-dash.b"  # the healthy run RUN_ID is compared with
OLDER_RUN_ID = "20251231T000000Z-dash.0"
ARRIVAL_RUN_ID = "20260101T000100Z-dash.arrivals"
ARRIVAL_ROW = "Arrival model: offered load and latency from the scheduled start"
MIN_SCHEMA_VERSION = 39  # Grafana 10.3+; Grafana migrates older dashboards on load


def walk(node, path="$"):
    """Every (path, dict) in a JSON tree."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def static_queries() -> list[dq.DashboardQuery]:
    try:
        return [item for dash in load_dashboards().values() for item in dq.queries(dash)]
    except (OSError, ValueError, KeyError):
        return []  # the structural tests below report what is wrong with the files


# -- dashboards ------------------------------------------------------------------------------------


@pytest.mark.parametrize("uid", sorted(DASHBOARD_FILES))
def test_dashboard_is_json_with_a_pinned_uid(uid):
    dash = json.loads(DASHBOARD_FILES[uid].read_text(encoding="utf-8"))
    assert dash["uid"] == uid
    assert dash.get("id") is None, "a provisioned dashboard must not carry a database id"
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= MIN_SCHEMA_VERSION
    assert dash["title"].startswith("Load test")


@pytest.mark.parametrize("uid", sorted(DASHBOARD_FILES))
def test_panel_ids_are_unique(uid):
    dash = load_dashboards()[uid]
    ids = [panel["id"] for panel, _ in dq.panels(dash)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"


@pytest.mark.parametrize("uid", sorted(DASHBOARD_FILES))
def test_every_datasource_reference_is_the_provisioned_uid(uid):
    dash = load_dashboards()[uid]
    refs = [(path, node["datasource"]) for path, node in walk(dash) if "datasource" in node]
    assert refs, "no datasource reference at all"
    wrong = [(path, ref) for path, ref in refs if ref != DATASOURCE]
    assert not wrong, f"datasource references that are not {DATASOURCE}: {wrong}"


@pytest.mark.parametrize("uid", sorted(DASHBOARD_FILES))
def test_every_panel_has_a_query(uid):
    for panel, _ in dq.panels(load_dashboards()[uid]):
        if panel["type"] == "row":
            continue
        if panel["type"] == "text":
            assert panel["options"]["content"].strip(), f"text panel {panel['title']!r} is empty"
            continue
        targets = panel.get("targets", [])
        assert targets, f"panel {panel['title']!r} has no query"
        for target in targets:
            assert target.get("rawQuery") is True and target.get("query", "").strip(), (
                f"panel {panel['title']!r} target {target.get('refId')} has no raw InfluxQL query"
            )


def _outside_literals(query: str) -> str:
    """The query without string literals, quoted identifiers and regex literals."""
    return re.sub(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|/(?:\\.|[^/\\\n])*/", " ", query)


@pytest.mark.parametrize("item", static_queries(), ids=lambda item: item.label)
def test_query_quotes_identifiers_and_names_variable_formats(item):
    bare = _outside_literals(item.query)
    assert not re.search(r"\bname\b", bare), 'name is an InfluxQL keyword: write "name"'
    assert not re.search(r"\bFROM\s+(?![(\"])", item.query), 'measurements are written quoted: FROM "request"'
    for name, fmt in dq.variable_references(item.query):
        # Without a format Grafana's escaping depends on its version; raw and regex never change.
        assert fmt in ("raw", "regex"), (
            f"${name} without a format: write ${{{name}:raw}} or ${{{name}:regex}}"
        )


@pytest.mark.parametrize("uid", sorted(DASHBOARD_FILES))
def test_variables_and_repeats_exist(uid):
    dash = load_dashboards()[uid]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    for item in dq.queries(dash):
        for name, _ in dq.variable_references(item.query):
            assert name in variables, f"{item.label} uses ${name}, which the dashboard does not define"
        if item.repeat:
            assert variables[item.repeat].get("includeAll") or variables[item.repeat].get("multi")


@pytest.mark.parametrize("item", [i for i in static_queries() if i.kind != "variable"], ids=lambda i: i.label)
def test_time_bucketed_and_annotation_queries_use_the_time_filter(item):
    if item.kind == "annotation" or "GROUP BY time(" in item.query:
        assert "$timeFilter" in item.query


# The data model's measurements (harness/influx/datamodel.py), by retention policy.
RUN_DATA = {m.name for m in datamodel.MEASUREMENTS if m.policy == datamodel.RUNS}
RAW_DATA = {m.name for m in datamodel.MEASUREMENTS if m.policy == datamodel.RAW}


@pytest.mark.parametrize("item", static_queries(), ids=lambda item: item.label)
def test_run_data_is_read_from_the_policy_variable_and_raw_data_from_the_default(item):
    # A literal "runs" blanks the dashboards where run data has another policy or none
    # (--influx-runs-rp ''); the variable finds it (docs/dashboards.md).
    sources = re.findall(r'FROM\s+(?:"([^"]*)"\.)?"(\w+)"', item.query)
    assert sources or item.query.startswith("SHOW RETENTION POLICIES"), "no measurement read"
    for policy, measurement in sources:
        assert measurement in RUN_DATA | RAW_DATA, f"unknown measurement {measurement!r}"
        expected = "${runs_rp:raw}" if measurement in RUN_DATA else ""
        assert policy == expected, f'{measurement} read from "{policy}", not "{expected}"'


def test_live_dashboard_draws_limits_from_the_runs_threshold_points():
    dash = load_dashboards()["loadtest-live"]
    limit_queries = {
        (panel["title"], t["refId"]): t["query"]
        for panel, _ in dq.panels(dash)
        for t in panel.get("targets", [])
        if '"${runs_rp:raw}"."threshold"' in t.get("query", "")
    }
    titles = {title for title, _ in limit_queries}
    assert {
        "p95 by endpoint — $api",
        "Success rate by endpoint — $api",
        "Load generator CPU by worker",
    } <= titles


# -- provisioning ----------------------------------------------------------------------------------


def test_datasource_provisioning_has_the_keys_grafana_reads():
    config = yaml.safe_load((ROOT / "provisioning" / "datasources" / "influxdb.yml").read_text())
    assert config["apiVersion"] == 1
    (source,) = config["datasources"]
    for key in ("name", "type", "uid", "url", "jsonData"):
        assert source.get(key), f"datasources[0].{key} is missing"
    assert (source["type"], source["uid"]) == (DATASOURCE["type"], DATASOURCE["uid"])
    assert source["access"] == "proxy"
    assert source["jsonData"]["version"] == "InfluxQL"
    assert source["jsonData"]["dbName"] == "loadtest"
    assert source["jsonData"]["httpHeaderName1"] == "Authorization"
    # The token comes from Grafana's environment, never from the file.
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"
    assert source["url"] == "${INFLUX_URL}"


def test_dashboard_provider_loads_the_mounted_dashboards_folder():
    config = yaml.safe_load((ROOT / "provisioning" / "dashboards" / "dashboards.yml").read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    mounts = _mounts(yaml.safe_load(COMPOSE.read_text())["services"]["grafana"])
    assert mounts["./dashboards"] == provider["options"]["path"]


# -- compose stack ---------------------------------------------------------------------------------


def _mounts(service: dict) -> dict[str, str]:
    return {v.split(":")[0]: v.split(":")[1] for v in service.get("volumes", [])}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_validates_against_the_compose_spec():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    require("check-jsonschema", Path(exe).exists(), "pip install 'check-jsonschema>=0.29,<1'")
    proc = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_images_are_pinned_and_healthchecked():
    services = _compose()["services"]
    influx_tag = services["influxdb"]["image"].split(":")[1]
    major, minor = (int(part) for part in influx_tag.split(".")[:2])
    assert (major, minor) >= (2, 5), "virtual DBRP mappings (bucket loadtest/runs) need InfluxDB 2.5+"
    assert re.fullmatch(r"grafana/grafana(-oss)?:\d+\.\d+\.\d+", services["grafana"]["image"])
    for name in ("influxdb", "grafana", "sandbox"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    assert services["grafana"]["depends_on"]["influxdb"]["condition"] == "service_healthy"


def test_compose_provisions_grafana_and_the_runs_bucket():
    compose = _compose()
    grafana = _mounts(compose["services"]["grafana"])
    assert grafana["./provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    assert grafana["./provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    influx = _mounts(compose["services"]["influxdb"])
    assert influx["./provisioning/influxdb"] == "/docker-entrypoint-initdb.d"
    script = (ROOT / "provisioning" / "influxdb" / "10-runs-bucket.sh").read_text()
    assert '--name "${DOCKER_INFLUXDB_INIT_BUCKET}/runs"' in script and "--retention 0" in script
    assert compose["services"]["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_BUCKET"] == "loadtest"
    named = set(compose["volumes"])
    used = {
        src for service in compose["services"].values() for src in _mounts(service) if not src.startswith(".")
    }
    assert used and used <= named


def test_compose_profiles_run_the_sandbox_and_distributed_locust():
    services = _compose()["services"]
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert services["sandbox"]["command"] == ["harness", "sandbox", "--host", "0.0.0.0", "--port", "8080"]
    master, worker = services["locust-master"], services["locust-worker"]
    assert master["profiles"] == worker["profiles"] == ["locust"]
    assert master["command"] == ["locust", "-f", "harness/locustfile.py", "--master"]
    assert worker["command"] == [
        "locust",
        "-f",
        "harness/locustfile.py",
        "--worker",
        "--master-host",
        "locust-master",
    ]
    assert "ports" not in worker and "container_name" not in worker, "workers must be scalable"
    assert (ROOT / "Dockerfile").exists() and "pip install ." in (ROOT / "Dockerfile").read_text()


def test_compose_commits_no_secret_and_env_example_names_every_variable():
    text = COMPOSE.read_text()
    for path, node in walk(_compose()):
        for key, value in node.items():
            if isinstance(value, str) and re.search(r"TOKEN|PASSWORD", key):
                assert value.startswith("${"), f"{path}.{key} holds a literal secret"
    used = set(re.findall(r"\$\{(\w+)", text))
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert used <= set(example), f".env.example lacks {sorted(used - set(example))}"
    for key, value in example.items():
        if re.search(r"TOKEN|PASSWORD", key):
            assert value == "CHANGE-ME", f".env.example must not hold a real {key}"
    for service in _compose()["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port} is published beyond loopback"


# -- every query against a real InfluxDB -----------------------------------------------------------


# The two layouts of run data: the retention policy "runs" (the default; InfluxDB 1.x and 2.x
# buckets db/runs) and none, everything in the default policy (--influx-runs-rp '', the layout
# InfluxDB 3 needs). The dashboards are the same files for both.
LAYOUTS = {"runs": "runs", "no-rp": ""}


@dataclass
class RecordedRun:
    client: InfluxClient
    verdict: Verdict
    start_ms: int
    thresholds: Thresholds
    runs_rp: str
    raw_deleted: bool = False
    contexts: dict = field(default_factory=dict)
    run_id: str = RUN_ID

    def context(self, uid: str, time_range: dq.TimeRange | None = None) -> dq.Context:
        """The time range and variables Grafana would use: the run's own for the live dashboard
        (as the link with var-run_id opens it), the last 90 days for the history."""
        now_ms = int(time.time() * 1000)
        start = self.start_ms - 60_000 if uid == "loadtest-live" else now_ms - 90 * 86_400_000
        context = dq.Context(time_range or dq.TimeRange(start, now_ms + 60_000))
        choose = {"run_id": [self.run_id]} if uid == "loadtest-live" else None
        options = dq.resolve_variables(load_dashboards()[uid], context, self.results, choose)
        self.contexts[uid] = options
        return context

    def results(self, query: str) -> list[dict]:
        return self.client.query_results(query, epoch="ms")


def has_values(results: list[dict]) -> bool:
    return any(
        any(v is not None for v in row[1:])
        for r in results
        for s in r.get("series", [])
        for row in s.get("values", [])
    )


def series_of(
    run: RecordedRun, uid: str, title: str, ref: str, repeat: str = "", time_range: dq.TimeRange | None = None
) -> list[dict]:
    (item,) = [i for i in dq.queries(load_dashboards()[uid]) if i.title == title and i.ref == ref]
    (query,) = [q for value, q in dq.expand(item, run.context(uid, time_range)) if value == repeat]
    return [s for r in run.results(query) for s in r.get("series", [])]


def non_null(series: dict, column: int = 1) -> list:
    return [row[column] for row in series["values"] if row[column] is not None]


@pytest.fixture(scope="module", params=sorted(LAYOUTS), ids=lambda layout: f"layout={layout}")
def recorded_run(influxd, tmp_path_factory, request):
    """A real 10-second, 40-user run with 30 % payment errors and 15 ms more latency on payments
    (enough requests for the comparison to decide), compared with a healthy run of the same load, stored and judged the way ``harness run`` does, once per
    layout of the run data."""
    runs_rp = LAYOUTS[request.param]
    db = "t_dashboards_" + request.param.replace("-", "_")
    client = InfluxClient(InfluxSettings(url=influxd.url, database=db))
    client.query_results(f'DROP DATABASE "{db}"', method="POST", epoch="")
    # The repository's limits, but a generation band a 10 s run can meet: a rate the load generator
    # could not offer would make the faulty run INCONCLUSIVE before any limit counts (docs/decisions.md
    # 23), and these tests are about what the dashboards draw, not about the throughput.
    limits = tmp_path_factory.mktemp("limits") / "baselines.yaml"
    content = yaml.safe_load((ROOT / "baselines.yaml").read_text())
    content["generation"].update(min_throughput_ratio=0.5, max_throughput_ratio=2)
    limits.write_text(yaml.safe_dump(content))

    def harness_run(run_id: str, *extra: str) -> subprocess.CompletedProcess:
        # The real thing: `harness run` writes the run, threshold, baseline, run_summary and
        # events points exactly as a user's run does.
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "run",
                "--run-id",
                run_id,
                "--users",
                "40",
                "--spawn-rate",
                "40",
                "--run-time",
                "10s",
                "--influx-url",
                influxd.url,
                "--influx-db",
                db,
                "--influx-runs-rp",
                runs_rp,
                "--thresholds-file",
                str(limits),
                "--out",
                str(tmp_path_factory.mktemp("run")),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )

    base = harness_run(BASE_RUN_ID)
    # Judged (10 s leave some endpoints with few requests: it may be inconclusive, exit 2).
    assert "verdict: " in base.stdout, (
        f"the baseline run broke:\n{base.stdout[-2000:]}\n{base.stderr[-2000:]}"
    )
    run = harness_run(
        RUN_ID,
        "--fault",
        "payments:error_rate=0.3",
        "--fault",
        "payments:latency_ms=15",
        "--baseline",
        BASE_RUN_ID,
    )
    assert run.returncode == 1, f"the faulty run must fail:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    thresholds = load_thresholds(limits)
    verdict, _ = judge(
        client,
        RUN_ID,
        thresholds,
        tmp_path_factory.mktemp("verdict"),
        generation_target=thresholds.generation.target_per_s,
        baseline=BASE_RUN_ID,
        runs_rp=runs_rp,
    )
    start_ns = client.query(
        f'SELECT "title" FROM {source(runs_rp, "events")} WHERE "run_id" = \'{RUN_ID}\' '
        "AND \"type\" = 'start'"
    )[0]["values"][0][0]
    # An older run's start, so the run list's order is tested too.
    client.write(
        (
            event_line(
                OLDER_RUN_ID, "local", "start", "Run started", "older run", start_ns - 3_600_000_000_000
            )
            + "\n"
        ).encode(),
        retention_policy=runs_rp,
    )
    # A change point as `harness history` stores it (its detection is tested in test_history.py).
    summary = client.query(
        f'SELECT "p95" FROM {source(runs_rp, "run_summary")} WHERE "run_id" = \'{RUN_ID}\' '
        "AND \"endpoint\" = 'POST /api/v1/payments'"
    )[0]["values"][0]
    point = ChangePoint(
        "POST /api/v1/payments",
        "p95",
        Shift(1, 3.0, summary[1]),
        RunValue(summary[0], RUN_ID, summary[1]),
        RunValue(summary[0] - 1, BASE_RUN_ID, 3.0),
    )
    store_change_points(client, runs_rp, "local", [point])
    return RecordedRun(client, verdict, start_ns // 1_000_000, thresholds, runs_rp)


def arrival_panel_titles() -> set[str]:
    """The live dashboard's panels under the arrival model's row: they answer for arrival-model runs."""
    titles, inside = set(), False
    for panel, _ in dq.panels(load_dashboards()["loadtest-live"]):
        if panel["type"] == "row":
            inside = panel["title"] == ARRIVAL_ROW
        elif inside:
            titles.add(panel["title"])
    return titles


def is_arrival_query(item: dq.DashboardQuery) -> bool:
    return item.dashboard == "loadtest-live" and item.kind == "panel" and item.title in arrival_panel_titles()


SKETCH_ROW = "Sketch mode (--influx-points sketches): the fleet's merged series"


def sketch_panel_titles() -> set[str]:
    """The live dashboard's sketch-backed twins: they answer for sketch-mode runs."""
    titles, inside = set(), False
    for panel, _ in dq.panels(load_dashboards()["loadtest-live"]):
        if panel["type"] == "row":
            inside = panel["title"] == SKETCH_ROW
        elif inside:
            titles.add(panel["title"])
    return titles


def is_sketch_query(item: dq.DashboardQuery) -> bool:
    return item.dashboard == "loadtest-live" and item.kind == "panel" and item.title in sketch_panel_titles()


@pytest.mark.influx
@pytest.mark.slow
@pytest.mark.parametrize(
    "item",
    [i for i in static_queries() if not is_arrival_query(i) and not is_sketch_query(i)],
    ids=lambda item: item.label,
)
def test_every_query_answers_with_the_runs_data(recorded_run, item):
    assert not recorded_run.raw_deleted, "ran after the raw points were deleted"
    for value, query in dq.expand(item, recorded_run.context(item.dashboard)):
        results = recorded_run.results(query)  # an InfluxDB error raises QueryError here
        assert has_values(results), f"{item.label} {value} returned no data:\n{query}"


@pytest.mark.influx
@pytest.mark.slow
def test_run_list_shows_the_newest_run_first(recorded_run):
    context = recorded_run.context("loadtest-live")
    options = recorded_run.contexts["loadtest-live"]
    assert options["run_id"][:3] == [RUN_ID, BASE_RUN_ID, OLDER_RUN_ID]
    # The run data's policy is found, not configured: "runs" when the database has it, otherwise
    # the default policy ("raw" where the harness created the database), the same on both dashboards.
    assert context.variables["runs_rp"].values == [recorded_run.runs_rp or "raw"]
    assert recorded_run.context("loadtest-history").variables["runs_rp"].values == [
        recorded_run.runs_rp or "raw"
    ]
    assert options["test_env"] == ["local"]
    assert set(options["api"]) == {"auth", "generation", "payments"}


@pytest.mark.influx
@pytest.mark.slow
def test_limit_lines_are_the_numbers_the_verdict_used(recorded_run):
    checks = {(c.scope, c.metric): c.threshold for c in recorded_run.verdict.checks}
    assert checks[("api:payments", "p95")] == 300.0 and checks[("api:payments", "success_rate")] == 95.0
    for title, metric in (
        ("p95 by endpoint — $api", "p95"),
        ("Success rate by endpoint — $api", "success_rate"),
    ):
        lines = {
            s["tags"]["scope"]: set(non_null(s))
            for s in series_of(recorded_run, "loadtest-live", title, "B", "payments")
        }
        assert lines["api:payments"] == {checks[("api:payments", metric)]}, title
    history = {
        s["tags"]["api"]: set(non_null(s))
        for s in series_of(recorded_run, "loadtest-history", "p95 per run by API", "B")
    }
    assert history["payments"] == {300.0} and history["auth"] == {200.0}
    throughput = series_of(recorded_run, "loadtest-live", "Generations created/s", "B")
    assert set(non_null(throughput[0])) == {checks[("api:generation", "throughput")]}
    (cpu_limit,) = series_of(recorded_run, "loadtest-live", "Load generator CPU by worker", "B")
    assert set(non_null(cpu_limit)) == {recorded_run.thresholds.max_cpu_percent}


def endpoint_comparisons(run: RecordedRun, statistic: str, api: str) -> dict:
    return {
        c.scope: c
        for c in run.verdict.comparisons
        if c.statistic == statistic and c.api == api and c.endpoint
    }


@pytest.mark.influx
@pytest.mark.slow
@pytest.mark.parametrize(
    "title,statistic",
    [("p95 by endpoint — $api", "p95"), ("Success rate by endpoint — $api", "success_rate")],
)
def test_live_panels_draw_the_baseline_and_the_regression_limit_per_endpoint(recorded_run, title, statistic):
    expected = endpoint_comparisons(recorded_run, statistic, "payments")
    assert expected, "the run was not compared with its baseline"
    baseline = {
        s["tags"]["scope"]: sorted(set(non_null(s)))
        for s in series_of(recorded_run, "loadtest-live", title, "C", "payments")
    }
    assert baseline == {scope: [pytest.approx(c.baseline)] for scope, c in expected.items()}
    limits = {
        s["tags"]["scope"]: sorted(set(non_null(s)))
        for s in series_of(recorded_run, "loadtest-live", title, "D", "payments")
    }
    assert limits == {scope: [pytest.approx(c.limit)] for scope, c in expected.items() if c.limit is not None}


@pytest.mark.influx
@pytest.mark.slow
def test_a_regressed_run_is_marked_on_both_dashboards(recorded_run):
    regressed = [c for c in recorded_run.verdict.comparisons if c.decision == "regressed"]
    assert "payments" in {c.api for c in regressed}, "15 ms more on payments must regress"
    (marks,) = series_of(recorded_run, "loadtest-history", "Regressions", "")
    (title,) = [row[1] for row in marks["values"]]
    assert title.startswith("REGRESSED: ") and "payments" in title
    (verdict,) = series_of(recorded_run, "loadtest-live", "Verdict", "")
    assert [row[1] for row in verdict["values"]] == [f"Verdict: {recorded_run.verdict.verdict}", title]


@pytest.mark.influx
@pytest.mark.slow
def test_history_shows_each_endpoints_p95_with_its_baseline(recorded_run):
    expected = {
        c.scope: c.baseline
        for api in ("auth", "generation", "payments")
        for c in endpoint_comparisons(recorded_run, "p95", api).values()
    }
    shown = {
        s["tags"]["endpoint"]: non_null(s)
        for s in series_of(recorded_run, "loadtest-history", "p95 per run by endpoint", "B")
    }
    assert shown == {scope: [pytest.approx(value)] for scope, value in expected.items()}


def line_queries(uid: str = "loadtest-live") -> list[dq.DashboardQuery]:
    """Every panel query that draws a limit or a baseline as a line."""
    return [
        item
        for item in dq.queries(load_dashboards()[uid])
        if item.kind == "panel" and re.search(r'\."(threshold|baseline)"', item.query)
    ]


@pytest.mark.influx
@pytest.mark.slow
@pytest.mark.parametrize("window", ["middle of the run", "last 3 s of the run"])
def test_limit_and_baseline_lines_span_a_range_that_starts_after_the_run_did(recorded_run, window):
    """A run longer than the time range: no threshold or baseline point lies inside the range, yet
    every line is drawn from its left edge to its right edge."""
    events = source(recorded_run.runs_rp, "events")
    (stop,) = recorded_run.client.query(
        f'SELECT "title" FROM {events} WHERE "run_id" = \'{RUN_ID}\' AND "type" = \'stop\'', epoch="ms"
    )
    stop_ms = stop["values"][0][0]
    start_ms = recorded_run.start_ms
    from_ms, to_ms = (
        (start_ms + 3000, start_ms + 6000) if window.startswith("middle") else (stop_ms - 3000, stop_ms)
    )
    assert from_ms > start_ms + 1000 and to_ms - from_ms >= 3000
    if window.startswith("middle"):
        for measurement in ("threshold", "baseline"):
            inside = recorded_run.client.query(
                f'SELECT count("value") FROM {source(recorded_run.runs_rp, measurement)} '
                f"WHERE \"run_id\" = '{RUN_ID}' AND time >= {from_ms}ms AND time <= {to_ms}ms"
            )
            assert not inside, f"{measurement} points inside the range: the test would prove nothing"
    time_range = dq.TimeRange(from_ms, to_ms)
    queries = line_queries()
    assert len(queries) >= 6
    for item in queries:
        for value, query in dq.expand(item, recorded_run.context("loadtest-live", time_range)):
            series = [s for r in recorded_run.results(query) for s in r.get("series", [])]
            assert series, f"{item.label} {value} draws nothing in {window}:\n{query}"
            for s in series:
                times = [row[0] for row in s["values"] if row[1] is not None]
                assert min(times) <= from_ms and max(times) >= to_ms, f"{item.label} {value} {s.get('tags')}"


@pytest.mark.influx
@pytest.mark.slow
def test_failure_panels_show_the_injected_payment_errors(recorded_run):
    (failures,) = series_of(recorded_run, "loadtest-live", "Failures", "A")
    assert 0 < non_null(failures)[0] < 50
    by_status = series_of(recorded_run, "loadtest-live", "Failures/s by status", "A")
    assert {s["tags"]["status"] for s in by_status} <= {"500", "503"}
    assert {s["tags"]["name"] for s in by_status} == {"/api/v1/payments"}
    (table,) = series_of(recorded_run, "loadtest-live", "Failures by status and error (latest 1000)", "A")
    assert table["columns"] == ["time", "status", "method", "name", "error"]
    assert all(re.search(r"code=50[03]", row[4]) for row in table["values"])
    success = series_of(recorded_run, "loadtest-live", "Success rate by endpoint — $api", "A", "payments")
    assert min(v for s in success for v in non_null(s)) < 100
    healthy = series_of(recorded_run, "loadtest-live", "Success rate by endpoint — $api", "A", "auth")
    assert {v for s in healthy for v in non_null(s)} == {100}


@pytest.mark.influx
@pytest.mark.slow
def test_annotations_mark_start_spawn_stop_and_verdict(recorded_run):
    (events,) = series_of(recorded_run, "loadtest-live", "Run events", "")
    titles = {row[events["columns"].index("title")] for row in events["values"]}
    assert titles == {"Run started", "Spawning complete", "Stopping", "Run stopped"}
    (verdict,) = series_of(recorded_run, "loadtest-live", "Verdict", "")
    assert [row[1] for row in verdict["values"]][0] == f"Verdict: {recorded_run.verdict.verdict}"
    assert recorded_run.verdict.verdict == "fail"


@pytest.fixture(scope="module")
def expired_run(recorded_run):
    """The same run after its raw points expired (deleted here); defined last so it runs last."""
    for measurement in ("request", "users"):
        recorded_run.client.query_results(
            f'DELETE FROM "{measurement}" WHERE "run_id" = \'{RUN_ID}\'', method="POST", epoch=""
        )
    recorded_run.raw_deleted = True
    return recorded_run


@pytest.mark.influx
@pytest.mark.slow
def test_history_answers_after_the_raw_points_are_gone(expired_run):
    assert not has_values(
        expired_run.results(f'SELECT count("response_time") FROM "request" WHERE "run_id" = \'{RUN_ID}\'')
    )
    history = [i for i in static_queries() if i.dashboard == "loadtest-history"]
    assert len(history) >= 10
    context = expired_run.context("loadtest-history")
    for item in history:
        for value, query in dq.expand(item, context):
            assert has_values(expired_run.results(query)), f"{item.label} {value} lost its data:\n{query}"


# -- the arrival model's panels against a real arrival-model run -----------------------------------


@pytest.fixture(scope="module")
def arrival_run(influxd, tmp_path_factory):
    """A real 20-second arrival-model run, payments at 20/s on a pool of 5 users, with a 2 s stall of
    the sandbox: arrivals wait for the stalled users, so every panel of the row has something to show."""
    db = "t_dashboards_arrivals"
    client = InfluxClient(InfluxSettings(url=influxd.url, database=db))
    client.query_results(f'DROP DATABASE "{db}"', method="POST", epoch="")
    out = tmp_path_factory.mktemp("arrival-run")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--run-id",
            ARRIVAL_RUN_ID,
            "--rate",
            "payments=20",
            "--users",
            "5",
            "--run-time",
            "20s",
            "--fault",
            "all:stall_at_s=8,stall_s=2",
            "--influx-url",
            influxd.url,
            "--influx-db",
            db,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert run.returncode == 1, f"the stalled run must fail:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert "api:payments" in run.stdout
    verdict = json.loads((out / "verdict.json").read_text())
    verdict["summary_md"] = (out / "summary.md").read_text()
    start_ns = client.query(
        f'SELECT "title" FROM "runs"."events" WHERE "run_id" = \'{ARRIVAL_RUN_ID}\' AND "type" = \'start\''
    )[0]["values"][0][0]
    return RecordedRun(client, verdict, start_ns // 1_000_000, Thresholds(), "runs", run_id=ARRIVAL_RUN_ID)


@pytest.mark.influx
@pytest.mark.slow
@pytest.mark.parametrize(
    "item", [i for i in static_queries() if is_arrival_query(i)], ids=lambda item: item.label
)
def test_every_arrival_panel_answers_with_an_arrival_runs_data(arrival_run, item):
    for value, query in dq.expand(item, arrival_run.context(item.dashboard)):
        assert has_values(arrival_run.results(query)), f"{item.label} {value} returned no data:\n{query}"


def test_the_arrival_row_has_the_panels_the_issue_asks_for():
    titles = arrival_panel_titles()
    assert {
        "Arrivals/s: asked, offered, achieved — by API",
        "Late and dropped arrivals/s — by API",
        "p95 from the scheduled start and service-time p95 — by endpoint",
    } <= titles


def _values_by_series(run: RecordedRun, title: str, ref: str) -> dict[str, dict[str, list]]:
    """{series tags joined: {column: non-null values}} of one panel query."""
    out = {}
    for s in series_of(run, "loadtest-live", title, ref):
        name = " ".join(str(v) for v in (s.get("tags") or {}).values())
        out[name] = {
            col: [row[i] for row in s["values"] if row[i] is not None]
            for i, col in enumerate(s["columns"])
            if col != "time"
        }
    return out


@pytest.mark.influx
@pytest.mark.slow
def test_arrival_panels_show_the_runs_numbers(arrival_run):
    client = arrival_run.client
    arrivals = _values_by_series(arrival_run, "Arrivals/s: asked, offered, achieved — by API", "A")[
        "payments"
    ]
    # The target line: 20/s asked in every full bucket (a bucket's sum of the workers' per-second shares).
    asked = arrivals["asked"]
    assert sorted(asked)[len(asked) // 2] == 20
    # The key requests drawn are the stored ones, every one of them.
    interval_s = dq.duration_ms("2s") / 1000
    keyed = _values_by_series(arrival_run, "Arrivals/s: asked, offered, achieved — by API", "B")["payments"]
    (stored,) = client.query(
        f'SELECT count("scheduled_response_time") FROM "request" WHERE "run_id" = '
        f"'{ARRIVAL_RUN_ID}' AND \"method\" = 'POST' AND \"name\" = '/api/v1/payments'"
    )
    assert round(sum(keyed["key requests"]) * interval_s) == stored["values"][0][1]
    late = _values_by_series(arrival_run, "Late and dropped arrivals/s — by API", "A")["payments"]
    assert sum(late["late"]) > 0, "the stall made arrivals wait"
    # Latency from the scheduled start saw the stall; the service time of the same requests saw less.
    latency = _values_by_series(
        arrival_run, "p95 from the scheduled start and service-time p95 — by endpoint", "A"
    )
    post = latency["POST /api/v1/payments"]
    assert max(post["p95 from scheduled start"]) >= 1000
    assert max(post["p95 from scheduled start"]) > max(post["p95 service time"])
    limits = _values_by_series(
        arrival_run, "p95 from the scheduled start and service-time p95 — by endpoint", "B"
    )
    assert set(limits["api:payments"]["value"]) == {
        300.0
    }  # carried over the whole range, like every limit line
    (lag_limit,) = series_of(arrival_run, "loadtest-live", "Load generator event-loop lag by worker", "B")
    assert set(non_null(lag_limit)) == {100.0}
    pool = _values_by_series(arrival_run, "Pool: users busy", "A")[""]
    assert max(pool["pool"]) == 5 and max(pool["busy"]) == 5, "the stall held every user of the pool"


@pytest.mark.influx
@pytest.mark.slow
def test_the_stalled_arrival_run_fails_naming_payments_with_both_latencies(arrival_run):
    """The verdict of the same run (the issue's stall acceptance, shortened): FAIL naming payments,
    the p99 from the scheduled start at least 1000 ms and the service-time p99 beside it."""
    verdict = arrival_run.verdict
    assert verdict["verdict"] == "fail" and verdict["reasons"][0].startswith("api:payments: ")
    post = verdict["endpoints"]["POST /api/v1/payments"]
    assert post["scheduled"]["p99"] >= 1000 and post["p99"] < post["scheduled"]["p99"]
    (stored,) = arrival_run.client.query(
        'SELECT percentile("scheduled_response_time", 99) FROM "request" WHERE "run_id" = '
        f"'{ARRIVAL_RUN_ID}' AND \"method\" = 'POST' AND \"name\" = '/api/v1/payments' "
        f"AND time >= '{verdict['window']['start']}' AND time <= '{verdict['window']['end']}'"
    )
    assert post["scheduled"]["p99"] == stored["values"][0][1]  # exactly InfluxDB's PERCENTILE
    row = next(
        line for line in verdict["summary_md"].splitlines() if line.startswith("| `POST /api/v1/payments`")
    )
    cells = [c.strip() for c in row.split("|")]
    assert f"{post['p99']:.1f}" in cells and f"{post['scheduled']['p99']:.1f}" in cells
    assert verdict["load"]["apis"]["payments"]["late"] > 0


# -- sketch mode's twins against a real sketch-mode run (two workers, arrival model, failures) -------

SKETCH_RUN_ID = "20260101T000200Z-dash.sketches"


@pytest.fixture(scope="module")
def sketch_run(influxd, tmp_path_factory):
    """A real 20-second arrival-model run recorded with ``--influx-points sketches`` on two worker
    processes, payments failing 30 %: no request point is stored, every twin has something to show."""
    db = "t_dashboards_sketches"
    client = InfluxClient(InfluxSettings(url=influxd.url, database=db))
    client.query_results(f'DROP DATABASE "{db}"', method="POST", epoch="")
    out = tmp_path_factory.mktemp("sketch-run")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "--run-id",
            SKETCH_RUN_ID,
            "--rate",
            "generation=5",
            "--rate",
            "payments=10",
            "--users",
            "20",
            "--run-time",
            "20s",
            "--processes",
            "2",
            "--influx-points",
            "sketches",
            "--fault",
            "payments:error_rate=0.3",
            "--influx-url",
            influxd.url,
            "--influx-db",
            db,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert run.returncode == 1, f"the faulty run must fail:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert not client.query(
        f'SELECT count("response_time") FROM "request" WHERE "run_id" = \'{SKETCH_RUN_ID}\''
    )
    verdict = json.loads((out / "verdict.json").read_text())
    start_ns = client.query(
        f'SELECT "title" FROM "runs"."events" WHERE "run_id" = \'{SKETCH_RUN_ID}\' AND "type" = \'start\''
    )[0]["values"][0][0]
    return RecordedRun(client, verdict, start_ns // 1_000_000, Thresholds(), "runs", run_id=SKETCH_RUN_ID)


TWINS = {
    "Requests": "Requests (sketches)",
    "Failures": "Failures (sketches)",
    "p95": "p95, worst second (sketches)",
    "Requests/s": "Requests/s (sketches)",
    "p95 by endpoint — $api": "p95 by endpoint (sketches)",
    "Success rate by endpoint — $api": "Success rate by endpoint (sketches)",
    "Requests/s by endpoint — $api": "Requests/s by endpoint (sketches)",
    "Generations created/s": "Generations created/s (sketches)",
    "Failures/s by status": "Failures/s by status (sketches)",
    "Failures by status and error (latest 1000)": "Failures by status and error (sketches, latest 1000 seconds)",
    "Arrivals/s: asked, offered, achieved — by API": "Key requests/s — by API (sketches)",
    "p95 from the scheduled start and service-time p95 — by endpoint": "p95 from the scheduled start and service-time p95 — by endpoint (sketches)",
}


def test_every_panel_reading_request_points_has_a_sketch_twin():
    request_panels = {
        i.title
        for i in static_queries()
        if i.dashboard == "loadtest-live" and i.kind == "panel" and re.search(r'FROM\s+"request"\s', i.query)
    }
    assert request_panels == set(TWINS)
    assert set(TWINS.values()) == sketch_panel_titles()


@pytest.mark.influx
@pytest.mark.slow
@pytest.mark.parametrize(
    "item",
    [
        i
        for i in static_queries()
        if i.dashboard == "loadtest-live" and (is_sketch_query(i) or i.kind == "variable")
    ],
    ids=lambda item: item.label,
)
def test_every_sketch_panel_answers_with_a_sketch_runs_data(sketch_run, item):
    # The twins' own queries (A) and the variables must show the run; the limit and baseline lines
    # they share with their request twins must answer (this run has limits but no baseline).
    for value, query in dq.expand(item, sketch_run.context(item.dashboard)):
        results = sketch_run.results(query)  # an InfluxDB error raises QueryError here
        if item.ref in ("A", "") or "limit" in query and "baseline" not in query:
            assert has_values(results), f"{item.label} {value} returned no data:\n{query}"


@pytest.mark.influx
@pytest.mark.slow
def test_sketch_twins_show_the_runs_counts_and_failures(sketch_run):
    (requests,) = series_of(sketch_run, "loadtest-live", "Requests (sketches)", "A")
    stored = sketch_run.client.query(
        f'SELECT sum("count") FROM "request_sketch" WHERE "run_id" = \'{SKETCH_RUN_ID}\''
    )[0]["values"][0][1]
    assert non_null(requests) == [stored]  # the fleet's merged series holds every worker's requests
    by_status = series_of(sketch_run, "loadtest-live", "Failures/s by status (sketches)", "A")
    assert any(s["tags"]["name"] == "/api/v1/payments" and s["tags"]["status"] == "500" for s in by_status)

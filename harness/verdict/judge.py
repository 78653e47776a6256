"""Measure → evaluate → write: the verdict of one stored run, shared by ``check`` and ``run``."""

from __future__ import annotations

from pathlib import Path

from harness.influx.client import InfluxClient, quote_string
from harness.rundata import write_summary
from harness.verdict.baseline import choose_baseline, load_baseline
from harness.verdict.compare import preload
from harness.verdict.evaluate import evaluate
from harness.verdict.measure import measure
from harness.verdict.model import Verdict
from harness.verdict.outputs import write_outputs
from harness.verdict.thresholds import Thresholds


def peak_users(client: InfluxClient, run_id: str, start_ns: int, end_ns: int) -> int | None:
    series = client.query(
        f'SELECT max("u") FROM (SELECT sum("users") AS "u" FROM "users" WHERE "run_id" = {quote_string(run_id)} '
        f'AND time >= {start_ns} AND time <= {end_ns} GROUP BY time(1s))')
    return int(series[0]["values"][0][1]) if series and series[0]["values"][0][1] is not None else None


def judge(client: InfluxClient, run_id: str, thresholds: Thresholds, out_dir: Path, *,
          generation_target: float | None, baseline: str | None = None, baseline_force: bool = False,
          runs_rp: str = "runs",
          store: bool = True, extra_warnings: list[str] = ()) -> tuple[Verdict, dict[str, Path]]:
    if baseline:
        preload()
    measured = measure(client, run_id, warmup_s=thresholds.warmup_s, generation_target=generation_target,
                       runs_rp=runs_rp, windows=thresholds.regression.windows)
    measured.warnings.extend(extra_warnings)
    baseline_stats = None
    if baseline:
        info = choose_baseline(client, baseline, run_id=run_id, test_env=measured.test_env, runs_rp=runs_rp,
                               force=baseline_force)
        baseline_stats = load_baseline(client, info, thresholds, runs_rp)
    verdict = evaluate(thresholds, measured, baseline_stats)
    paths = write_outputs(verdict, out_dir, thresholds)
    if store:
        start_ns, end_ns = measured.window_ns
        write_summary(client, runs_rp, verdict,
                      peak_users(client, run_id, start_ns - int(measured.warmup_s * 1e9), end_ns + 1))
    return verdict, paths

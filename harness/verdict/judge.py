"""Measure → evaluate → write the files: the verdict of one stored run, shared by ``check``, ``report``
and ``run``. Storing it in InfluxDB (``run_summary``, the verdict event) is the caller's choice:
``harness.rundata.store_verdict``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.errors import HarnessError
from harness.influx.client import InfluxClient
from harness.verdict.abort import evaluate_run, read_abort
from harness.verdict.measure import find_last_passing_run, measure
from harness.verdict.model import Verdict
from harness.verdict.outputs import write_outputs
from harness.verdict.thresholds import Thresholds


def api_percentiles(thresholds: Thresholds) -> tuple[int, ...]:
    """The percentiles API-group limits need: p95 always (summaries and dashboards show it), p50 and
    p99 only when a group's limits name them — each is a full pass over the run's points."""
    wanted = {95}
    for limits in thresholds.apis.values():
        if limits.max_p50_ms is not None:
            wanted.add(50)
        if limits.max_p99_ms is not None:
            wanted.add(99)
    return tuple(sorted(wanted))


def judge(client: InfluxClient, run_id: str, thresholds: Thresholds, out_dir: Path, *,
          generation_target: float | None, baseline: str | None = None, runs_rp: str = "runs",
          extra_warnings: list[str] = ()) -> tuple[Verdict, dict[str, Path]]:
    percentiles = api_percentiles(thresholds)
    measured = measure(client, run_id, warmup_s=thresholds.warmup_s, generation_target=generation_target,
                       runs_rp=runs_rp, api_percentiles=percentiles, window_s=thresholds.load.window_s)
    measured = replace(measured, abort=read_abort(client, run_id, runs_rp))
    measured.warnings.extend(extra_warnings)
    baseline_measured = None
    if baseline:
        baseline_id = baseline
        if baseline == "last-pass":
            baseline_id = find_last_passing_run(client, measured.test_env, runs_rp, exclude=run_id)
            if baseline_id is None:
                raise HarnessError(f"--baseline last-pass: no passing run of test env {measured.test_env!r} is stored")
        baseline_measured = measure(client, baseline_id, warmup_s=thresholds.warmup_s,
                                    generation_target=generation_target, runs_rp=runs_rp, api_percentiles=percentiles,
                                    window_s=thresholds.load.window_s)
    verdict = evaluate_run(thresholds, measured, baseline_measured)
    paths = write_outputs(verdict, out_dir, thresholds)
    return verdict, paths

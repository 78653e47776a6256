"""Measure → evaluate → write the files: the verdict of one stored run, shared by ``check``, ``report``
and ``run``. Storing it in InfluxDB (``run_summary``, the verdict event) is the caller's choice:
``harness.rundata.store_verdict``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from harness.influx.client import InfluxClient
from harness.verdict.decide.abort import evaluate_run
from harness.verdict.decide.compare import preload
from harness.verdict.model import Verdict
from harness.verdict.outputs import write_outputs
from harness.verdict.reads.abort import read_abort
from harness.verdict.reads.baseline import choose_baseline, load_baseline
from harness.verdict.reads.measure import measure
from harness.verdict.rules.thresholds import Thresholds


def judge(
    client: InfluxClient,
    run_id: str,
    thresholds: Thresholds,
    out_dir: Path,
    *,
    generation_target: float | None,
    baseline: str | None = None,
    baseline_force: bool = False,
    runs_rp: str = "runs",
    extra_warnings: Sequence[str] = (),
    source: str | None = None,
    counted: int | None = None,
) -> tuple[Verdict, dict[str, Path]]:
    """``baseline``: RUN_ID, last-pass or last-N-pass (docs/baselines.md); ``baseline_force``
    compares with it even when its load differs; ``source``: ``requests`` or ``sketches`` (default:
    the request points when the run has them); ``counted``: Locust's own request count, the
    second witness of completeness (else the one a ``run`` point stored, if any)."""
    if baseline:
        preload()
    measured = measure(
        client,
        run_id,
        warmup_s=thresholds.warmup_s,
        generation_target=generation_target,
        runs_rp=runs_rp,
        window_s=thresholds.load.window_s,
        windows=thresholds.regression.windows,
        source=source,
        counted=counted,
    )
    measured = replace(
        measured, abort=read_abort(client, run_id, runs_rp, thresholds, measured.window_ns, measured.source)
    )
    measured.warnings.extend(extra_warnings)
    baseline_stats = None
    if baseline:
        info = choose_baseline(
            client, baseline, run_id=run_id, test_env=measured.test_env, runs_rp=runs_rp, force=baseline_force
        )
        baseline_stats = load_baseline(client, info, thresholds, runs_rp)
    verdict = evaluate_run(thresholds, measured, baseline_stats)
    paths = write_outputs(verdict, out_dir, thresholds)
    return verdict, paths

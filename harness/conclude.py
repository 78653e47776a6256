"""The end of a judged run, the same wherever it is judged: ``harness run``, ``harness check`` and
``harness report``, and a Locust master or local runner started with ``--verdict``
(harness.listener.verdict). The verdict itself comes from ``harness.verdict.judge``; this module
only says it (console, one line for a Kubernetes termination message) and adds the report."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.influx.client import InfluxClient
from harness.report import write_report
from harness.verdict import Thresholds, Verdict

# Kubernetes keeps at most 4096 bytes of a termination message (and 12 KiB for all containers).
TERMINATION_MESSAGE_MAX = 4096


def generation_target(thresholds: Thresholds, chosen: float | None) -> float | None:
    """The run's generation target: a value the user chose (flag, env, file) wins over
    baselines.yaml; 0 switches the throughput check off."""
    return chosen if chosen is not None else thresholds.generation.target_per_s


def print_verdict(verdict: Verdict, paths: dict[str, Path], stream=None) -> None:
    stream = stream or sys.stdout  # looked up now: a captured or replaced stdout must be honoured
    print(
        f"verdict: {verdict.verdict.upper()} (run {verdict.run_id}, exit {int(verdict.exit_code)})",
        file=stream,
    )
    for reason in verdict.reasons:
        print(f"  - {reason}", file=stream)
    for warning in verdict.warnings:
        print(f"  ! {warning}", file=stream)
    print(f"  files: {', '.join(str(p) for p in paths.values())}", file=stream)


def verdict_line(verdict: Verdict) -> str:
    """One line: the verdict, the run id and why (every reason, else the warnings), cut to what a
    Kubernetes termination message keeps."""
    why = "; ".join(verdict.reasons or verdict.warnings) or "every check passed"
    line = f"{verdict.verdict.upper()} run={verdict.run_id} exit={int(verdict.exit_code)}: {why}"
    return cut(line)


def cut(line: str) -> str:
    data = " ".join(line.split()).encode("utf-8")
    if len(data) <= TERMINATION_MESSAGE_MAX:
        return data.decode("utf-8")
    return data[: TERMINATION_MESSAGE_MAX - 3].decode("utf-8", errors="ignore") + "..."


def add_report(
    client: InfluxClient,
    verdict: Verdict,
    thresholds: Thresholds,
    out_dir: Path,
    paths: dict[str, Path],
    runs_rp: str,
) -> None:
    """The report files beside the verdict's; a report that cannot be made is a warning: the
    verdict and its exit code stand."""
    try:
        paths.update(write_report(client, verdict, thresholds, out_dir, runs_rp=runs_rp))
    except HarnessError as exc:
        print(f"harness: warning: no report: {exc}")

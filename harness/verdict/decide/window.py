"""The run's limits over one stretch of time, judged by the verdict's own ``evaluate``: what the
live checks judge every few seconds, and what the checker judges again, on the complete stored
points, after an abort (the figures are read by reads/window.py). One judge, two time ranges."""

from __future__ import annotations

import math
from dataclasses import replace

from harness.influx.datamodel import USERS_INTERVAL_S
from harness.verdict.decide.evaluate import evaluate
from harness.verdict.model import CPU, Check, WindowFigures
from harness.verdict.rules.thresholds import Thresholds


def latency_limits(thresholds: Thresholds, checks: tuple[str, ...]) -> tuple[float, ...]:
    """Every latency limit a checked percentile has in some scope: the window read counts the
    requests slower than each (one COUNT with a WHERE on the field per limit: cheap)."""
    keys = [f"max_{c}_ms" for c in checks if c in ("p50", "p95", "p99")]
    values = {getattr(limits, k) for limits in thresholds.apis.values() for k in keys}
    values |= {override.get(k) for override in thresholds.endpoints.values() for k in keys}
    return tuple(sorted(float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)))


def window_checks(thresholds: Thresholds, checks: tuple[str, ...], figures: WindowFigures) -> list[Check]:
    """The checks ``checks`` names, judged over the window by the verdict's own evaluator.

    A scope with fewer than ``min_samples`` requests in the window is not judged (passed None):
    three payments with one failure must not stop a run. The CPU check fails a worker whose every
    sample in the window was above ``max_cpu_percent``, when it has samples for at least half the
    window (it writes one a second)."""
    out = []
    for check in evaluate(thresholds, figures.measured).checks:
        if check.kind != "absolute" or check.metric not in checks:
            continue
        if check.passed is not None and figures.requests(check.scope) < thresholds.min_samples:
            check = replace(
                check,
                passed=None,
                message=f"{check.message} (only {figures.requests(check.scope)} "
                f"requests in the window, fewer than min_samples "
                f"{thresholds.min_samples}: not judged)",
            )
        out.append(check)
    limit = thresholds.max_cpu_percent
    if CPU in checks and limit is not None:
        needed = max(1, int(figures.duration_s / USERS_INTERVAL_S / 2))
        for worker, (lowest, samples) in sorted(figures.cpu.items()):
            scope = f"worker:{worker}"
            if samples < needed:
                out.append(
                    Check(
                        scope,
                        CPU,
                        limit,
                        lowest,
                        None,
                        "data",
                        f"{scope}: only {samples} CPU samples in the window: not judged",
                    )
                )
                continue
            passed = lowest <= limit
            message = (
                f"{scope}: the load generator's CPU fell to {lowest:.1f} % in the window (limit {limit:g} %)"
                if passed
                else f"{scope}: the load generator's CPU stayed above {limit:g} % for the whole window "
                f"(lowest {lowest:.1f} %)"
            )
            out.append(Check(scope, CPU, limit, lowest, passed, "data", message))
    return out

"""The run's limits over one stretch of time: what the live checks judge every few seconds, and
what the checker judges again, on the complete stored points, after an abort.

The numbers come from the same queries as the verdict's (``measure.window_stats``) restricted
to the window, and the limits are judged by the verdict's own ``evaluate``: one judge, two
time ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

from harness.influx.client import InfluxClient, quote_string
from harness.verdict.abort_rule import CPU
from harness.verdict.evaluate import evaluate
from harness.verdict.measure import sketch_window_stats, window_stats
from harness.verdict.model import Check, Measurements
from harness.verdict.thresholds import Thresholds

USERS_INTERVAL_S = 1.0  # the listener writes each process's CPU this often (harness/listener/influx_listener.py)


@dataclass(frozen=True)
class WindowFigures:
    start_ns: int
    end_ns: int
    measured: Measurements  # endpoints and API groups over the window
    cpu: dict[str, tuple[float, int]]  # worker → (lowest CPU % in the window, samples)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def requests(self, scope: str) -> int:
        """Requests (or, for a worker's CPU, samples) behind a check's scope in this window."""
        m = self.measured
        if scope.startswith("api:"):
            stats = m.apis.get(scope[4:])
        elif scope.startswith("worker:"):
            return self.cpu.get(scope[7:], (0.0, 0))[1]
        else:
            stats = m.endpoints.get(scope)
        return stats.requests if stats is not None else 0


def measure_window(client: InfluxClient, run_id: str, start_ns: int, end_ns: int, checks: tuple[str, ...],
                   test_env: str = "", source: str = "requests") -> WindowFigures:
    """The stored points of ``[start_ns, end_ns]``, with only the percentiles ``checks`` name: an
    exact percentile is a pass over the window's points, so a check that is not asked for costs
    nothing. The statements go in one request: a short window is cheap, and one request is what a
    gevent process can bound with a timeout."""
    percentiles = tuple(int(c[1:]) for c in checks if c in ("p50", "p95", "p99"))
    where = f'"run_id" = {quote_string(run_id)} AND time >= {start_ns} AND time <= {end_ns}'
    duration_s = max((end_ns - start_ns) / 1e9, 1e-9)
    if source == "sketches":  # the workers' per-second points: whole seconds starting in the window
        endpoints, apis = sketch_window_stats(client, run_id, start_ns, end_ns, duration_s)
    else:
        endpoints, apis = window_stats(client, where, duration_s, endpoint_percentiles=percentiles,
                                       api_percentiles=percentiles, concurrent=False)
    cpu: dict[str, tuple[float, int]] = {}
    if CPU in checks:
        for series in client.query(f'SELECT min("cpu_percent"), count("cpu_percent") FROM "users" '
                                   f'WHERE {where} GROUP BY "worker"'):
            _, lowest, samples = series["values"][0]
            if lowest is not None:
                cpu[series["tags"]["worker"]] = (float(lowest), int(samples))
    measured = Measurements(
        run_id=run_id, test_env=test_env,
        start=datetime.fromtimestamp(start_ns / 1e9, timezone.utc),
        end=datetime.fromtimestamp(end_ns / 1e9, timezone.utc),
        duration_s=duration_s, warmup_s=0.0, endpoints=endpoints, apis=apis,
        generation_target=0.0)  # throughput is not a window check
    return WindowFigures(start_ns, end_ns, measured, cpu)


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
            check = replace(check, passed=None, message=f"{check.message} (only {figures.requests(check.scope)} "
                                                        f"requests in the window, fewer than min_samples "
                                                        f"{thresholds.min_samples}: not judged)")
        out.append(check)
    limit = thresholds.max_cpu_percent
    if CPU in checks and limit is not None:
        needed = max(1, int(figures.duration_s / USERS_INTERVAL_S / 2))
        for worker, (lowest, samples) in sorted(figures.cpu.items()):
            scope = f"worker:{worker}"
            if samples < needed:
                out.append(Check(scope, CPU, limit, lowest, None, "data",
                                 f"{scope}: only {samples} CPU samples in the window: not judged"))
                continue
            passed = lowest <= limit
            message = (f"{scope}: the load generator's CPU fell to {lowest:.1f} % in the window "
                       f"(limit {limit:g} %)" if passed else
                       f"{scope}: the load generator's CPU stayed above {limit:g} % for the whole window "
                       f"(lowest {lowest:.1f} %)")
            out.append(Check(scope, CPU, limit, lowest, passed, "data", message))
    return out

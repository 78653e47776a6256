"""What every report file shows, assembled once from the verdict, the limits in force and the
per-interval series, so the page, report.json and the CSV files cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.report.series import Bucket, RunSeries
from harness.verdict import Comparison, EndpointStats, Latency, Limits, Thresholds, Verdict, scope_status


@dataclass(frozen=True)
class EndpointView:
    key: str
    api: str
    stats: EndpointStats | None  # over the judged window; None if only seen in the warm-up
    limits: Limits | None  # the limits in force for it (group's, changed by its override)
    status: str  # pass | fail | not judged | none (no checks)
    buckets: list[Bucket]
    scheduled: Latency | None = None  # arrival model: latency from the scheduled start, judged window
    comparisons: dict[str, Comparison] = field(default_factory=dict)  # statistic → against the baseline


@dataclass(frozen=True)
class ReportView:
    verdict: Verdict
    thresholds: Thresholds
    series: RunSeries
    endpoints: list[EndpointView]
    parameters: dict[str, Any] | None
    warmup_shown_s: float  # seconds from the first request to the judged window's start

    @property
    def run_id(self) -> str:
        return self.verdict.run_id

    def x_of(self, bucket_t_ns: int) -> float:
        """Seconds from the run's first request to the middle of the part of a bucket the run covered."""
        s = self.series
        end = min(bucket_t_ns + s.interval_s * 1_000_000_000, s.last_ns)
        return ((bucket_t_ns + end) / 2 - s.first_ns) / 1e9


def build_view(
    verdict: Verdict, thresholds: Thresholds, series: RunSeries, parameters: dict[str, Any] | None
) -> ReportView:
    m = verdict.measurements
    keys = sorted(set(m.endpoints) | set(series.endpoints))
    endpoints = []
    for key in keys:
        stats = m.endpoints.get(key)
        api = stats.api if stats is not None else series.endpoints[key].api
        buckets = series.endpoints[key].buckets if key in series.endpoints else []
        endpoints.append(
            EndpointView(
                key=key,
                api=api,
                stats=stats,
                limits=thresholds.limits_for(key, api),
                status=scope_status(verdict.checks, key),
                buckets=buckets,
                scheduled=m.scheduled.get(key),
                comparisons={c.statistic: c for c in verdict.comparisons if c.scope == key},
            )
        )
    judged_start_ns = m.window_ns[0]
    warmup = max(0.0, (judged_start_ns - series.first_ns) / 1e9)
    return ReportView(
        verdict=verdict,
        thresholds=thresholds,
        series=series,
        endpoints=endpoints,
        parameters=parameters,
        warmup_shown_s=warmup,
    )

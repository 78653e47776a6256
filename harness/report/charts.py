"""The report's charts: what is drawn for the whole run and for each endpoint, with the limits
in force drawn as the same lines the verdict checked."""

from __future__ import annotations

from harness.report.fmt import num
from harness.report.svg import Chart, Limit, Line, Mark
from harness.report.view import EndpointView, ReportView

P95_COLOR, SUCCESS_COLOR, RPS_COLOR, USERS_COLOR = "#2563eb", "#059669", "#7c3aed", "#d97706"
SCHEDULED_COLOR, TARGET_COLOR, LATE_COLOR, DROPPED_COLOR = "#dc2626", "#6b7280", "#d97706", "#dc2626"


def _line(view: ReportView, label: str, buckets, value, color: str) -> Line:
    points = [(view.x_of(b.t_ns), v) for b in buckets if (v := value(b)) is not None]
    return Line(label, points, color)


LOAD_CHART_SIZE = {"width": 560, "height": 220}  # two to a row: the run's overview


def _chart(view: ReportView, title: str, unit: str, lines: list[Line], **more) -> Chart:
    return Chart(
        title=title,
        unit=unit,
        lines=lines,
        x_max=view.series.duration_s,
        shade_until=view.warmup_shown_s,
        marks=abort_marks(view),
        **more,
    )


def abort_marks(view: ReportView) -> list[Mark]:
    """Where the live checks stopped the run, and the window they judged (on every chart)."""
    if view.verdict.abort is None:
        return []
    r, first = view.verdict.abort.record, view.series.first_ns
    return [
        Mark(
            (r.time_ns - first) / 1e9,
            f"aborted at t={r.at_s:.0f} s",
            ((r.start_ns - first) / 1e9, (r.end_ns - first) / 1e9),
        )
    ]


def load_charts(view: ReportView) -> list[Chart]:
    total = view.series.total
    users = [(view.x_of(t), float(n)) for t, n in view.series.users]
    return arrival_charts(view) + [
        _chart(
            view,
            "Requests/s, all endpoints",
            "req/s",
            [_line(view, "requests/s", total, lambda b: b.rps, RPS_COLOR)],
            y_min=0.0,
            **LOAD_CHART_SIZE,
        ),
        _chart(
            view, "Active users", "users", [Line("users", users, USERS_COLOR)], y_min=0.0, **LOAD_CHART_SIZE
        ),
        _chart(
            view,
            "p95 latency, all endpoints",
            "ms",
            [_line(view, "p95", total, lambda b: b.p95, P95_COLOR)],
            y_min=0.0,
            **LOAD_CHART_SIZE,
        ),
        _chart(
            view,
            "Success rate, all endpoints",
            "%",
            [_line(view, "success rate", total, lambda b: b.success_rate, SUCCESS_COLOR)],
            y_max=100.0,
            **LOAD_CHART_SIZE,
        ),
    ]


def arrival_charts(view: ReportView) -> list[Chart]:
    """Arrival model, per API: arrivals asked against those started, and those that waited or were dropped."""
    charts = []
    for api, buckets in view.series.arrivals.items():
        charts += [
            _chart(
                view,
                f"Arrivals/s — {api}: asked and started",
                "arrivals/s",
                [
                    _line(view, "asked", buckets, lambda b: b.target_per_s, TARGET_COLOR),
                    _line(view, "started", buckets, lambda b: b.started_per_s, RPS_COLOR),
                ],
                y_min=0.0,
                **LOAD_CHART_SIZE,
            ),
            _chart(
                view,
                f"Late and dropped arrivals — {api}",
                "arrivals",
                [
                    _line(view, "late", buckets, lambda b: float(b.late), LATE_COLOR),
                    _line(view, "dropped", buckets, lambda b: float(b.dropped), DROPPED_COLOR),
                ],
                y_min=0.0,
                **LOAD_CHART_SIZE,
            ),
        ]
    return charts


def endpoint_charts(view: ReportView, endpoint: EndpointView) -> list[Chart]:
    limits = endpoint.limits
    p95_limits = (
        [Limit(limits.max_p95_ms, f"limit {num(limits.max_p95_ms, 1)} ms")]
        if limits is not None and limits.max_p95_ms is not None
        else []
    )
    success_limits = (
        [Limit(limits.min_success_rate, f"limit {num(limits.min_success_rate, 2)} %")]
        if limits is not None and limits.min_success_rate is not None
        else []
    )
    p95_limits += _regression_limits(endpoint, "p95", "ms", 1)
    success_limits += _regression_limits(endpoint, "success_rate", "%", 2)
    rps_limits = (
        [Limit(limits.min_rps, f"limit {num(limits.min_rps, 2)} req/s")]
        if limits is not None and limits.min_rps is not None
        else []
    )
    b = endpoint.buckets
    p95_lines = [_line(view, "p95", b, lambda x: x.p95, P95_COLOR)]
    if any(x.p95_scheduled is not None for x in b):
        p95_lines = [
            _line(view, "from scheduled start", b, lambda x: x.p95_scheduled, SCHEDULED_COLOR),
            _line(view, "service time", b, lambda x: x.p95, P95_COLOR),
        ]
    return [
        _chart(view, "p95 latency", "ms", p95_lines, limits=p95_limits, y_min=0.0),
        _chart(
            view,
            "Success rate",
            "%",
            [_line(view, "success rate", b, lambda x: x.success_rate, SUCCESS_COLOR)],
            limits=success_limits,
            y_max=100.0,
        ),
        _chart(
            view,
            "Requests/s",
            "req/s",
            [_line(view, "requests/s", b, lambda x: x.rps, RPS_COLOR)],
            limits=rps_limits,
            y_min=0.0,
        ),
    ]


def _regression_limits(endpoint: EndpointView, statistic: str, unit: str, places: int) -> list[Limit]:
    """The line beyond which the verdict's comparison with the baseline starts to count."""
    c = endpoint.comparisons.get(statistic)
    if c is None or c.limit is None:
        return []
    sign = "−" if statistic == "success_rate" else "+"  # the worse way
    return [
        Limit(
            c.limit,
            f"baseline {num(c.baseline, places)} {unit} {sign} {num(c.min_effect, places)}: "
            f"{num(c.limit, places)} {unit}",
        )
    ]

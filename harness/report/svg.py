"""Line charts as inline SVG, drawn in Python: the page needs no script library and no network.

Each data line is a ``<path class="series" data-points="N">``; points get a ``<circle>`` with a
``<title>`` tooltip while there are few enough to hover one by one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

from harness.report.fmt import elapsed, num

MAX_MARKERS = 120  # above this, markers only clutter the line
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 12, 26, 28


@dataclass(frozen=True)
class Line:
    label: str
    points: list[tuple[float, float]]  # (seconds since the run's start, value)
    color: str = "#2563eb"


@dataclass(frozen=True)
class Limit:
    value: float
    label: str  # e.g. "limit 300 ms"


@dataclass(frozen=True)
class Mark:
    """A moment of the run drawn across the chart (an abort), with the window it judged shaded."""

    at: float  # seconds since the run's start
    label: str
    window: tuple[float, float] | None = None


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str  # "ms", "%", "req/s", "users"
    lines: list[Line]
    x_max: float  # seconds: the run's length, so every chart of a run shares its time axis
    limits: list[Limit] = field(default_factory=list)
    shade_until: float = 0.0  # warm-up: not judged, drawn greyed
    y_min: float | None = None  # fixed bottom (0 for latencies and rates); None fits the data
    y_max: float | None = None  # fixed top (100 for success rates)
    width: int = 360
    height: int = 200
    marks: list[Mark] = field(default_factory=list)


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1-2-5 step giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def y_range(chart: Chart) -> tuple[float, float]:
    values = [y for line in chart.lines for _, y in line.points] + [lim.value for lim in chart.limits]
    low = chart.y_min if chart.y_min is not None else min(values, default=0.0)
    high = chart.y_max if chart.y_max is not None else max(values, default=1.0)
    if high - low < 1e-9:  # a flat line still needs an axis around it
        if chart.y_max is not None:
            low = high - 1
        elif chart.y_min is not None:
            high = low + 1
        else:
            low, high = low - 1, high + 1
    step = nice_step(high - low)
    if chart.y_min is None:
        low = math.floor(low / step) * step
    if chart.y_max is None:
        # Headroom, so a line at its maximum is not drawn on the frame.
        high = math.ceil((high + 0.04 * (high - low)) / step) * step
    return low, high


def render(chart: Chart) -> str:
    w, h = chart.width, chart.height
    left, top = MARGIN_LEFT, MARGIN_TOP
    plot_w, plot_h = w - MARGIN_LEFT - MARGIN_RIGHT, h - MARGIN_TOP - MARGIN_BOTTOM
    x_max = max(chart.x_max, 1e-9)
    low, high = y_range(chart)

    def x(seconds: float) -> float:
        return left + plot_w * min(max(seconds / x_max, 0.0), 1.0)

    def y(value: float) -> float:
        return top + plot_h * (1 - (min(max(value, low), high) - low) / (high - low))

    points = sum(len(line.points) for line in chart.lines)
    out = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" '
        f'height="{h}" role="img" aria-label="{escape(chart.title)}" data-points="{points}">',
        f'<text class="title" x="{left}" y="16">{escape(chart.title)}</text>',
    ]
    if chart.shade_until > 0:
        out.append(
            f'<rect class="warmup" x="{left}" y="{top}" width="{x(chart.shade_until) - left:.1f}" '
            f'height="{plot_h}"><title>warm-up: not judged</title></rect>'
        )
    step = nice_step(high - low)
    for i in range(int((high - low) / step + 1e-6) + 1):
        tick = low + i * step
        out.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{num(tick, 2)}</text>'
        )
    x_step = _time_step(x_max)
    for i in range(int(x_max / x_step + 1e-6) + 1):
        t = i * x_step
        out.append(
            f'<text class="tick" x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{elapsed(t)}</text>"
        )
    out.append(
        f'<text class="unit" x="{left - 6}" y="{top - 6}" text-anchor="end">{escape(chart.unit)}</text>'
    )
    out.append(f'<rect class="frame" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/>')
    for limit in chart.limits:
        ly = y(limit.value)
        out.append(
            f'<line class="threshold" x1="{left}" x2="{left + plot_w}" y1="{ly:.1f}" y2="{ly:.1f}">'
            f"<title>{escape(limit.label)}</title></line>"
            f'<text class="threshold-label" x="{left + plot_w - 4}" y="{ly - 4:.1f}" '
            f'text-anchor="end">{escape(limit.label)}</text>'
        )
    for mark in chart.marks:
        if mark.window is not None:
            out.append(
                f'<rect class="mark-window" x="{x(mark.window[0]):.1f}" y="{top}" '
                f'width="{max(x(mark.window[1]) - x(mark.window[0]), 0.0):.1f}" height="{plot_h}">'
                f"<title>{escape(mark.label)}: the window it judged</title></rect>"
            )
        out.append(
            f'<line class="mark" x1="{x(mark.at):.1f}" x2="{x(mark.at):.1f}" y1="{top}" y2="{top + plot_h}">'
            f"<title>{escape(mark.label)}</title></line>"
        )
    for line in chart.lines:
        out.append(_line(line, x, y, chart.unit))
    if len(chart.lines) > 1:
        out.append(_legend(chart.lines, left + plot_w - 4, top + 12))
    if points == 0:
        out.append(
            f'<text class="empty" x="{left + plot_w / 2}" y="{top + plot_h / 2}" '
            f'text-anchor="middle">no data</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _line(line: Line, x, y, unit: str) -> str:
    if not line.points:
        return ""
    d = " ".join(f"{'M' if i == 0 else 'L'}{x(px):.1f},{y(py):.1f}" for i, (px, py) in enumerate(line.points))
    parts = [
        f'<path class="series" d="{d}" stroke="{line.color}" data-points="{len(line.points)}">'
        f"<title>{escape(line.label)}</title></path>"
    ]
    if len(line.points) <= MAX_MARKERS:
        parts += [
            f'<circle class="point" cx="{x(px):.1f}" cy="{y(py):.1f}" r="2.2" fill="{line.color}">'
            f"<title>{escape(line.label)} at {elapsed(px)}: {num(py, 2)} {escape(unit)}</title></circle>"
            for px, py in line.points
        ]
    return "".join(parts)


def _legend(lines: list[Line], right: float, y: float) -> str:
    """The lines' names in their colours, right-aligned in the plot's top row (about 6 px a character)."""
    parts, x_end = [], right
    for line in reversed(lines):
        parts.append(
            f'<text class="legend" x="{x_end:.1f}" y="{y:.1f}" text-anchor="end" fill="{line.color}">'
            f"● {escape(line.label)}</text>"
        )
        x_end -= 6 * (len(line.label) + 2) + 10
    return "".join(reversed(parts))


def _time_step(x_max: float) -> float:
    """Seconds between time-axis labels: about six labels, on whole seconds, minutes or hours."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400):
        if x_max / step <= 6:
            return float(step)
    return 86400.0 * math.ceil(x_max / 86400 / 6)

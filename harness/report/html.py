"""report.html: the run as a person reads it, in one self-contained file (inline style, inline
SVG charts, a few lines of inline script; nothing fetched)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import escape

from harness import __version__
from harness.report import svg
from harness.report.assets import SCRIPT, STYLE
from harness.report.charts import endpoint_charts, load_charts
from harness.report.fmt import ms, num, rate, utc_ns
from harness.report.view import EndpointView, ReportView
from harness.verdict import (
    Check,
    Stats,
    abort_line,
    change_text,
    completeness_unit,
    generation_target_in_force,
    interval_text,
    levels_text,
    run_unit_text,
    scope_status,
    utc_text,
    value_text,
)

HEADLINES = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "error": "ERROR"}
_MARK = {True: ("pass", "✓ pass"), False: ("fail", "✗ fail"), None: ("not-judged", "? not judged")}
_STATUS_TEXT = {"pass": "✓ pass", "fail": "✗ fail", "not judged": "? not judged", "none": "— no checks"}


def render(view: ReportView) -> str:
    v = view.verdict
    # What a reader acts on first: the verdict and why, then where (tables, charts), then detail.
    body = [
        _headline(view),
        _reasons(view),
        _arrivals_table(view),
        _endpoint_table(view),
        _baseline(view),
        _load(view),
        _endpoints(view),
        _checks(v.checks),
        _run(view),
        f"<footer>Made by harness {escape(__version__)} at "
        f"{escape(utc_text(datetime.now(timezone.utc).replace(microsecond=0)))}. Numbers in the tables "
        f"cover the judged window; charts cover the whole run in {view.series.interval_s} s intervals "
        f"(grey: warm-up, not judged).</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{HEADLINES[v.verdict]} — load test {escape(v.run_id)}</title>"
        f"<style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(p for p in body if p)
        + f"\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def _headline(view: ReportView) -> str:
    v, m = view.verdict, view.verdict.measurements
    facts = [
        f"run <code>{escape(v.run_id)}</code>",
        f"environment {escape(m.test_env or '—')}",
        f"judged {_time(m.start)} → {_time(m.end)} ({num(m.duration_s, 1)} s "
        f"after a {num(m.warmup_s, 1)} s warm-up)",
        f"exit code {int(v.exit_code)}",
        f"source: {escape(m.source)} ({escape(m.accuracy)})",
    ]
    if v.baseline_run_id:
        facts.append(f"baseline <code>{escape(v.baseline_run_id)}</code>")
    if v.abort is not None:
        facts.append(f"stopped early by the live checks at t={v.abort.record.at_s:.0f} s")
    failed = sum(c.passed is False for c in v.checks)
    unjudged = sum(c.passed is None for c in v.checks)
    return (
        f'<header class="headline {v.verdict}" id="verdict" data-verdict="{v.verdict}">'
        f"<h1>{HEADLINES[v.verdict]} — load test</h1>"
        f'<div class="facts">{" · ".join(facts)}</div>'
        f'<div class="facts">{len(v.checks)} checks: {len(v.checks) - failed - unjudged} passed, '
        f"{failed} failed, {unjudged} not judged</div></header>"
    )


def _reasons(view: ReportView) -> str:
    v = view.verdict
    parts = []
    if v.reasons:
        parts.append(
            '<h2>Why</h2><ul class="reasons">' + "".join(f"<li>{escape(r)}</li>" for r in v.reasons) + "</ul>"
        )
    if v.warnings:
        parts.append(
            '<h2>Warnings</h2><ul class="reasons">'
            + "".join(f"<li>{escape(w)}</li>" for w in v.warnings)
            + "</ul>"
        )
    return "\n".join(parts)


def _checks(checks: list[Check]) -> str:
    ordered = sorted(checks, key=lambda c: {False: 0, None: 1, True: 2}[c.passed])
    rows = []
    for c in ordered:
        css, text = _MARK[c.passed]
        rows.append(
            f'<tr class="{css}"><td class="status {css}">{text}</td><td><code>{escape(c.scope)}</code></td>'
            f'<td>{escape(c.metric)}</td><td class="n">{num(c.threshold, 2)}</td>'
            f'<td class="n">{num(c.observed, 2)}</td><td>{escape(c.kind)}</td>'
            f"<td>{escape(c.message)}</td></tr>"
        )
    return (
        '<h2>Checks</h2><table id="checks"><thead><tr><th>Result</th><th>Scope</th><th>Check</th>'
        '<th class="n">Limit</th><th class="n">Observed</th><th>Kind</th><th>Message</th></tr></thead>'
        f"<tbody>{''.join(rows) or '<tr><td colspan=7>no checks</td></tr>'}</tbody></table>"
    )


def _arrivals_table(view: ReportView) -> str:
    """Arrival model: per API, the rate asked and the rate achieved per window, and the arrivals that
    waited for a free user or were dropped."""
    m, load = view.verdict.measurements, view.thresholds.load
    if m.load_model != "arrival":
        return ""
    rows = []
    for api, a in sorted(m.load.items()):
        rates = [w.achieved_per_s for w in a.windows]
        keyed = [w.requests_per_s for w in a.windows if w.requests_per_s is not None]
        span = lambda values: f"{num(min(values), 2)} – {num(max(values), 2)}" if values else "—"  # noqa: E731
        checks = [c for c in view.verdict.checks if c.metric == "arrival_rate"]
        status = scope_status(checks, f"api:{api}")
        status_cell = (
            _status_cell(status)
            if status != "none"
            else '<td class="status not-judged">? load generator</td>'
        )
        rows.append(
            f"<tr><td>{escape(api)}</td><td>{escape(a.defining or '—')}</td>"
            + "".join(
                f'<td class="n">{c}</td>'
                for c in (
                    num(a.target_per_s, 2),
                    span(rates),
                    span(keyed),
                    str(a.late),
                    str(a.dropped),
                    ms(a.max_lag_ms),
                )
            )
            + status_cell
            + "</tr>"
        )
    absent = sorted(set(view.thresholds.apis) - set(m.load))
    note = f"<p>No rate, so not run and not judged: {escape(', '.join(absent))}.</p>" if absent else ""
    basis = "the scheduled start of each iteration" if load.latency == "scheduled" else "each request's send"
    return (
        f"<h2>Load</h2><p>Arrival model: arrivals per second in every {num(load.window_s, 0)} s window after "
        f"the warm-up, asked ± {num(load.tolerance * 100, 2)} %; latency limits count from {basis}.</p>"
        '<table id="arrivals"><thead><tr><th>API</th><th>Key request</th><th class="n">Asked /s</th>'
        '<th class="n">Achieved /s (windows)</th><th class="n">Key requests /s</th><th class="n">Late</th>'
        '<th class="n">Dropped</th><th class="n">Max lag ms</th><th>Status</th></tr></thead><tbody>'
        f"{''.join(rows) or '<tr><td colspan=9>no arrivals stored</td></tr>'}</tbody></table>{note}"
    )


def _endpoint_table(view: ReportView) -> str:
    m = view.verdict.measurements
    scheduled = m.load_model == "arrival"

    def sched(latency) -> list[str]:
        if not scheduled:
            return []
        return ["—", "—"] if latency is None else [ms(latency.p95), ms(latency.p99)]

    rows = []
    s: Stats | None
    for e in view.endpoints:
        s = e.stats
        cells = (
            [
                str(s.requests),
                str(s.failures),
                rate(s.success_rate),
                ms(s.p50),
                ms(s.p95),
                ms(s.p99),
                ms(s.max),
                *sched(e.scheduled),
                num(s.rps, 2),
            ]
            if s is not None
            else ["0"] + ["—"] * (9 if scheduled else 7)
        )
        rows.append(
            f'<tr><td><a href="#{_anchor(e.key)}"><code>{escape(e.key)}</code></a></td>'
            f"<td>{escape(e.api)}</td>"
            + "".join(f'<td class="n">{c}</td>' for c in cells)
            + f"<td>{_limits_text(e)}</td>{_status_cell(e.status)}</tr>"
        )
    for api, s in sorted(m.apis.items()):
        cells = [
            str(s.requests),
            str(s.failures),
            rate(s.success_rate),
            ms(s.p50),
            ms(s.p95),
            ms(s.p99),
            ms(s.max),
            *sched(m.scheduled_apis.get(api)),
            num(s.rps, 2),
        ]
        limits = view.thresholds.apis.get(api)
        rows.append(
            f"<tr><td><strong>all {escape(api)}</strong></td><td>{escape(api)}</td>"
            + "".join(f'<td class="n">{c}</td>' for c in cells)
            + f"<td>{_limits_text(limits)}</td>"
            + _status_cell(scope_status(view.verdict.checks, f"api:{api}"))
            + "</tr>"
        )
    titles = ["Requests", "Failures", "Success %", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    titles += ["p95 ms from sched.", "p99 ms from sched."] if scheduled else []
    head = "".join(f'<th class="n">{h}</th>' for h in titles + ["req/s"])
    note = (
        '<p class="legend">p50–max: service time (the request alone); <em>from sched.</em>: from the '
        "scheduled start of its iteration, including the wait for a free user.</p>"
        if scheduled
        else ""
    )
    return (
        f'<h2>Endpoints</h2><table id="endpoints"><thead><tr><th>Endpoint</th><th>API</th>{head}'
        f"<th>Limits</th><th>Status</th></tr></thead><tbody>"
        f"{''.join(rows) or '<tr><td colspan=14>no requests recorded</td></tr>'}</tbody></table>{note}"
    )


_DECISION_CSS = {"regressed": "fail", "improved": "pass", "no change": "pass", "inconclusive": "not-judged"}


def _baseline(view: ReportView) -> str:
    """Each statistic of each endpoint and group against the baseline: values, change, interval,
    decision (the same comparisons verdict.json lists)."""
    v = view.verdict
    if v.baseline is None:
        return ""
    if v.baseline.unusable:
        return f'<h2>Against the baseline</h2><p id="baseline-unusable">{escape(v.baseline.unusable)}</p>'
    runs = ", ".join(f"<code>{escape(r)}</code>" for r in v.baseline.run_ids)
    how = "the mean of runs" if v.baseline.method == "mean" else "run"
    level = levels_text(v.comparisons)
    rows = "".join(
        f'<tr class="{_DECISION_CSS[c.decision]}" data-scope="{escape(c.scope)}" data-statistic="{c.statistic}">'
        f"<td><code>{escape(c.scope)}</code></td><td>{escape(c.statistic)}</td>"
        f'<td class="n">{escape(value_text(c.baseline, c.statistic))}</td>'
        f'<td class="n">{escape(value_text(c.current, c.statistic))}</td>'
        f'<td class="n">{escape(change_text(c))}</td><td class="n">{escape(interval_text(c))}</td>'
        f'<td class="status {_DECISION_CSS[c.decision]}" title="{escape(c.reason)}">{escape(c.decision)}</td></tr>'
        for c in v.comparisons
    )
    return (
        f"<h2>Against the baseline</h2><p>Compared with {how} {runs} ({escape(v.baseline.spec)}); intervals "
        f"are {level} confidence intervals of the change; a statistic regressed when its whole interval lies "
        f"beyond the minimum effect. {escape(run_unit_text(v.comparisons, view.thresholds.regression))}</p>"
        '<table id="baseline"><thead><tr><th>Scope</th><th>Statistic</th><th class="n">Baseline</th>'
        '<th class="n">This run</th><th class="n">Change</th><th class="n">Interval</th><th>Decision</th>'
        f"</tr></thead><tbody>{rows or '<tr><td colspan=7>nothing in common to compare</td></tr>'}</tbody></table>"
    )


def _status_cell(status: str) -> str:
    return f'<td class="status {status.replace(" ", "-")}">{_STATUS_TEXT[status]}</td>'


def _limits_text(item) -> str:
    limits = item.limits if isinstance(item, EndpointView) else item
    if limits is None:
        return "—"
    names = {
        "min_success_rate": "success ≥ {} %",
        "max_p50_ms": "p50 ≤ {} ms",
        "max_p95_ms": "p95 ≤ {} ms",
        "max_p99_ms": "p99 ≤ {} ms",
        "max_ms": "max ≤ {} ms",
        "min_rps": "≥ {} req/s",
    }
    return ", ".join(names[k].format(num(value, 2)) for k, value in limits.items()) or "—"


_LEGEND = (
    '<p class="legend"><span class="swatch"></span> warm-up (not judged) · '
    '<span class="dash"></span> limit in force · hover a point for its value</p>'
)


_ABORT_LEGEND = (
    '<p class="legend"><span class="swatch abort-window"></span> the window the live checks '
    'judged · <span class="abort-line"></span> where they stopped the run</p>'
)


def _load(view: ReportView) -> str:
    charts = "".join(svg.render(c) for c in load_charts(view))
    legend = _LEGEND + (_ABORT_LEGEND if view.verdict.abort is not None else "")
    return f'<h2>Load over time</h2>{legend}<div class="charts" id="load">{charts}</div>'


def _endpoints(view: ReportView) -> str:
    cards = []
    for e in view.endpoints:
        charts = "".join(svg.render(c) for c in endpoint_charts(view, e))
        requests = e.stats.requests if e.stats is not None else 0
        cards.append(
            f'<section class="endpoint {e.status.replace(" ", "-")}" id="{_anchor(e.key)}" '
            f'data-endpoint="{escape(e.key)}"><h3><code>{escape(e.key)}</code> '
            f'<span class="status {e.status.replace(" ", "-")}">{_STATUS_TEXT[e.status]}</span></h3>'
            f'<div class="meta">api {escape(e.api)} · {requests} requests judged · '
            f'limits: {_limits_text(e)}</div><div class="charts">{charts}</div></section>'
        )
    return "<h2>Per endpoint</h2>" + ("".join(cards) or "<p>no requests recorded</p>")


def _run(view: ReportView) -> str:
    m, v = view.verdict.measurements, view.verdict
    c = m.completeness
    rows = [
        ("Run id", v.run_id),
        ("Environment", m.test_env or "—"),
        (
            "Requests in InfluxDB",
            f"{utc_ns(view.series.first_ns)} → {utc_ns(view.series.last_ns)} "
            f"({num(view.series.duration_s, 1)} s)",
        ),
        (
            "Completeness",
            "unknown: the listeners' counts are missing"
            if c is None
            else f"{c.stored} of {c.seen} {completeness_unit(m.source)} stored ({c.missing} missing, "
            f"{c.dropped} dropped, "
            f"{c.spooled} spooled, {c.quarantined} quarantined, {c.workers} workers reported"
            + (f"; lost: {', '.join(c.lost_workers)}" if c.lost_workers else "")
            + ")",
        ),
        ("Load generator CPU (max)", "—" if m.cpu_max_percent is None else f"{num(m.cpu_max_percent, 1)} %"),
    ]
    if v.abort is not None:
        rows.insert(2, ("Aborted", abort_line(v.abort)))
    target = generation_target_in_force(view.thresholds, m)
    if target:
        rows.append(("Generations", f"{num(m.generation_rate, 2)}/s achieved, target {num(target, 2)}/s"))
    rows.append(("Thresholds", view.thresholds.source))
    params = view.parameters
    stored = ""
    if params is None:
        rows.append(("Run parameters", "not stored (the run was not started by harness run)"))
    else:
        rows += [(key, str(value)) for key, value in params.items() if key != "thresholds"]
        if "thresholds" in params:
            stored = (
                "<details><summary>Thresholds stored with the run</summary><pre><code>"
                + escape(json.dumps(params["thresholds"], indent=2, sort_keys=True))
                + "</code></pre></details>"
            )
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(val)}</td></tr>" for k, val in rows)
    return f'<h2>Run</h2><table id="run">{table}</table>{stored}'


def _time(moment: datetime) -> str:
    return escape(utc_ns(int(moment.timestamp() * 1e9)))


def _anchor(key: str) -> str:
    return "ep-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")

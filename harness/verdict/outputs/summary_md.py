"""summary.md: the verdict as GitHub-flavoured Markdown for a CI job summary.

Reasons come first (what a reader needs to act on), then the per-endpoint table, then
warnings and completeness. Numbers are rounded for reading; verdict.json keeps them exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from harness.verdict.decide.compare import change_text, interval_text, levels_text, run_unit_text, value_text
from harness.verdict.decide.evaluate import completeness_unit, generation_target_in_force
from harness.verdict.model import Check, Latency, Stats, Verdict, scope_status
from harness.verdict.outputs.abort import abort_line
from harness.verdict.outputs.verdict_json import utc_text
from harness.verdict.rules.thresholds import Thresholds

HEADLINES = {"pass": "✅ PASS", "fail": "❌ FAIL", "inconclusive": "⚠️ INCONCLUSIVE", "error": "🛑 ERROR"}
_MARKS = {False: "❌", None: "⚠️", True: "✅"}


def render(verdict: Verdict, thresholds: Thresholds) -> str:
    m = verdict.measurements
    lines = [f"## {HEADLINES[verdict.verdict]} — load test `{_cell(verdict.run_id)}`", ""]
    lines += [
        "| | |",
        "| --- | --- |",
        f"| Run | `{_cell(verdict.run_id)}` |",
        f"| Environment | {_cell(m.test_env)} |",
        f"| Window | {utc_text(m.start)} → {utc_text(m.end)} "
        f"({_num(m.duration_s, 1)} s judged, after a {_num(m.warmup_s, 1)} s warm-up) |",
        f"| Source | {_cell(m.source)}: {_cell(m.accuracy)} |",
        f"| Exit code | {int(verdict.exit_code)} |",
    ]
    if verdict.baseline_run_id:
        lines.append(f"| Baseline | `{_cell(verdict.baseline_run_id)}` |")
    if verdict.abort is not None:
        lines.append(f"| Aborted | {_cell(abort_line(verdict.abort))} |")
    target = generation_target_in_force(thresholds, m)
    if target:
        achieved = "unknown" if m.generation_rate is None else f"{_num(m.generation_rate, 2)}/s"
        lines.append(f"| Generations | {achieved} achieved, target {_num(target, 2)}/s |")
    if m.load_model == "arrival":
        basis = (
            "the scheduled start"
            if thresholds.load.latency == "scheduled"
            else "the request's send (service time)"
        )
        lines.append(
            f"| Load | arrival model: {_cell(', '.join(f'{api} {_num(load.target_per_s, 2)}/s' for api, load in sorted(m.load.items())) or 'no rate')}; "
            f"latency limits judged from {basis} |"
        )
    lines.append("")

    if verdict.reasons:
        lines += ["### Why", ""]
        lines += [f"- {_reason_mark(verdict, r)} {r}" for r in verdict.reasons]
        lines.append("")
    lines += _load_table(verdict, thresholds)
    lines += _stats_table(verdict)
    lines += _comparison_table(verdict, thresholds)
    if verdict.warnings:
        lines += ["### Warnings", ""] + [f"- {w}" for w in verdict.warnings] + [""]
    lines += [_completeness_line(verdict), ""]
    lines += _all_checks(verdict.checks)
    return "\n".join(lines)


def _load_table(verdict: Verdict, thresholds: Thresholds) -> list[str]:
    """Arrival model: the rate asked and achieved per API, with the arrivals that could not start on time."""
    m = verdict.measurements
    if m.load_model != "arrival":
        return []
    window, tolerance = _num(thresholds.load.window_s, 0), _num(thresholds.load.tolerance * 100, 2)
    lines = [
        "### Load",
        "",
        f"Arrivals per second in every {window} s window after the warm-up, asked ± {tolerance} %.",
        "",
        "| API | Asked /s | Achieved /s (lowest – highest window) | Key request /s | Late | Dropped "
        "| Max lag ms | Status |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for api, load in sorted(m.load.items()):
        rates = [w.achieved_per_s for w in load.windows]
        keyed = [w.requests_per_s for w in load.windows if w.requests_per_s is not None]
        achieved = f"{_num(min(rates), 2)} – {_num(max(rates), 2)}" if rates else "—"
        key = f"{_num(min(keyed), 2)} – {_num(max(keyed), 2)}" if keyed else "—"
        lag = "—" if load.max_lag_ms is None else _ms(load.max_lag_ms)
        # Each API's rate makes one check: under its own scope, or the load generator's when that set the rate.
        status = _status(verdict.checks, f"api:{api}", "arrival_rate")
        if status == _STATUS_LABELS["none"]:
            status = "⚠️ load generator"
        lines.append(
            f"| {_cell(api)} | {_num(load.target_per_s, 2)} | {achieved} | {key} | {load.late} "
            f"| {load.dropped} | {lag} | {status} |"
        )
    absent = sorted(set(thresholds.apis) - set(m.load))
    if absent:
        lines += ["", f"No rate, so not run and not judged: {', '.join(_cell(a) for a in absent)}."]
    return lines + [""]


DECISIONS = {
    "regressed": "❌ regressed",
    "improved": "✅ improved",
    "no change": "✅ no change",
    "inconclusive": "⚠️ inconclusive",
}


def _comparison_table(verdict: Verdict, thresholds: Thresholds) -> list[str]:
    """Per endpoint and group, each statistic against the baseline (docs/baselines.md)."""
    info = verdict.baseline
    if info is None:
        return []
    lines = ["### Against the baseline", ""]
    if info.unusable:
        return lines + [f"Not compared: {_cell(info.unusable)}", ""]
    comparisons = verdict.comparisons
    counts = ", ".join(f"{sum(c.decision == d for c in comparisons)} {d}" for d in DECISIONS)
    runs = ", ".join(f"`{_cell(r)}`" for r in info.run_ids)
    how = "the mean of runs " if info.method == "mean" else "run "
    lines += [
        f"Compared with {how}{runs} ({info.spec}): {counts}. Intervals are {levels_text(comparisons)} "
        f"confidence intervals of the change. {run_unit_text(comparisons, thresholds.regression)}",
        "",
        "| Scope | Statistic | Baseline | This run | Change | Interval | Decision |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| `{_cell(c.scope)}` | {c.statistic} | {value_text(c.baseline, c.statistic)} "
        f"| {value_text(c.current, c.statistic)} | {change_text(c)} | {interval_text(c)} "
        f"| {DECISIONS[c.decision]} |"
        for c in comparisons
    ]
    return lines + [""]


def _stats_table(verdict: Verdict) -> list[str]:
    m = verdict.measurements
    scheduled = m.load_model == "arrival"
    extra_head = " p95 ms from sched. | p99 ms from sched. |" if scheduled else ""
    extra_rule = " ---: | ---: |" if scheduled else ""
    lines = [
        "### Endpoints",
        "",
        "| Endpoint | API | Requests | Failures | Success % | p50 ms | p95 ms | p99 ms "
        f"| max ms |{extra_head} req/s | Status |",
        f"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |{extra_rule} ---: | --- |",
    ]
    for key in sorted(m.endpoints):
        s = m.endpoints[key]
        lines.append(
            _row(
                f"`{_cell(key)}`",
                _cell(s.api),
                s,
                _status(verdict.checks, key),
                _scheduled_cells(m.scheduled.get(key)) if scheduled else [],
            )
        )
    for api in sorted(m.apis):
        lines.append(
            _row(
                f"**all {_cell(api)}**",
                _cell(api),
                m.apis[api],
                _status(verdict.checks, f"api:{api}"),
                _scheduled_cells(m.scheduled_apis.get(api)) if scheduled else [],
            )
        )
    if not m.endpoints:
        lines.append("| *no requests recorded* | | | | | | | | | | |" + (" | |" if scheduled else ""))
    if scheduled:
        lines += [
            "",
            "p50–max: service time (the request alone); *from sched.*: from the scheduled start of its "
            "iteration, including the time the iteration waited for a free user.",
        ]
    return lines + [""]


def _scheduled_cells(latency: Latency | None) -> list[str]:
    return [_ms(None), _ms(None)] if latency is None else [_ms(latency.p95), _ms(latency.p99)]


def _row(label: str, api: str, s: Stats, status: str, scheduled: Sequence[str] = ()) -> str:
    cells = [
        label,
        api,
        str(s.requests),
        str(s.failures),
        _rate(s.success_rate),
        _ms(s.p50),
        _ms(s.p95),
        _ms(s.p99),
        _ms(s.max),
        *scheduled,
        _num(s.rps, 2),
        status,
    ]
    return "| " + " | ".join(cells) + " |"


_STATUS_LABELS = {"none": "—", "fail": "❌ fail", "not judged": "⚠️ not judged", "pass": "✅ pass"}


def _status(checks: list[Check], scope: str, metric: str | None = None) -> str:
    if metric is not None:
        checks = [c for c in checks if c.metric == metric]
    return _STATUS_LABELS[scope_status(checks, scope)]


def _completeness_line(verdict: Verdict) -> str:
    c = verdict.measurements.completeness
    if c is None:
        return "**Completeness:** unknown — the listener's counts are missing."
    lost = f"; lost: {', '.join(f'`{_cell(w)}`' for w in c.lost_workers)}" if c.lost_workers else ""
    return (
        f"**Completeness:** {c.stored} of {c.seen} {completeness_unit(verdict.measurements.source)} "
        f"stored in InfluxDB "
        f"({c.missing} missing, {c.dropped} dropped, {c.spooled} spooled, {c.quarantined} quarantined, "
        f"{c.workers} workers reported{lost})."
    )


def _all_checks(checks: list[Check]) -> list[str]:
    if not checks:
        return []
    lines = [
        "<details><summary>All checks</summary>",
        "",
        "| | Scope | Check | Kind | Message |",
        "| --- | --- | --- | --- | --- |",
    ]
    ordered = sorted(checks, key=lambda c: {False: 0, None: 1, True: 2}[c.passed])
    lines += [
        f"| {_MARKS[c.passed]} | `{_cell(c.scope)}` | {c.metric} | {c.kind} | {_cell(c.message)} |"
        for c in ordered
    ]
    return lines + ["", "</details>", ""]


def _reason_mark(verdict: Verdict, reason: str) -> str:
    for check in verdict.checks:
        if check.message == reason:
            return _MARKS[check.passed]
    return "🛑"


def _rate(value: float | None) -> str:
    if value is None:
        return "—"
    # Rounded down, so a run with any failure never reads as 100 %; via the decimal text,
    # so 99.99 stays 99.99 rather than becoming 99.98 through binary floats.
    return str(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _num(value: float, places: int) -> str:
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cell(text: str) -> str:
    # A bare "|" would end a table cell; line breaks would end the row.
    return str(text).replace("|", "\\|").replace("\n", " ")

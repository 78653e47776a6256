"""summary.md: the verdict as GitHub-flavoured Markdown for a CI job summary.

Reasons come first (what a reader needs to act on), then the per-endpoint table, then
warnings and completeness. Numbers are rounded for reading; verdict.json keeps them exact.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from harness.verdict.abort import abort_line
from harness.verdict.evaluate import generation_target_in_force
from harness.verdict.model import Check, Stats, Verdict, scope_status
from harness.verdict.outputs.verdict_json import utc_text
from harness.verdict.thresholds import Thresholds

HEADLINES = {"pass": "✅ PASS", "fail": "❌ FAIL", "inconclusive": "⚠️ INCONCLUSIVE",
             "error": "🛑 ERROR"}
_MARKS = {False: "❌", None: "⚠️", True: "✅"}


def render(verdict: Verdict, thresholds: Thresholds) -> str:
    m = verdict.measurements
    lines = [f"## {HEADLINES[verdict.verdict]} — load test `{_cell(verdict.run_id)}`", ""]
    lines += ["| | |", "| --- | --- |",
              f"| Run | `{_cell(verdict.run_id)}` |",
              f"| Environment | {_cell(m.test_env)} |",
              f"| Window | {utc_text(m.start)} → {utc_text(m.end)} "
              f"({_num(m.duration_s, 1)} s judged, after a {_num(m.warmup_s, 1)} s warm-up) |",
              f"| Exit code | {int(verdict.exit_code)} |"]
    if verdict.baseline_run_id:
        lines.append(f"| Baseline | `{_cell(verdict.baseline_run_id)}` |")
    if verdict.abort is not None:
        lines.append(f"| Aborted | {_cell(abort_line(verdict.abort))} |")
    target = generation_target_in_force(thresholds, m)
    if target:
        achieved = "unknown" if m.generation_rate is None else f"{_num(m.generation_rate, 2)}/s"
        lines.append(f"| Generations | {achieved} achieved, target {_num(target, 2)}/s |")
    lines.append("")

    if verdict.reasons:
        lines += ["### Why", ""]
        lines += [f"- {_reason_mark(verdict, r)} {r}" for r in verdict.reasons]
        lines.append("")
    lines += _stats_table(verdict)
    if verdict.warnings:
        lines += ["### Warnings", ""] + [f"- {w}" for w in verdict.warnings] + [""]
    lines += [_completeness_line(verdict), ""]
    lines += _all_checks(verdict.checks)
    return "\n".join(lines)


def _stats_table(verdict: Verdict) -> list[str]:
    m = verdict.measurements
    lines = ["### Endpoints", "",
             "| Endpoint | API | Requests | Failures | Success % | p50 ms | p95 ms | p99 ms "
             "| max ms | req/s | Status |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for key in sorted(m.endpoints):
        s = m.endpoints[key]
        lines.append(_row(f"`{_cell(key)}`", _cell(s.api), s, _status(verdict.checks, key)))
    for api in sorted(m.apis):
        lines.append(_row(f"**all {_cell(api)}**", _cell(api), m.apis[api],
                          _status(verdict.checks, f"api:{api}")))
    if not m.endpoints:
        lines.append("| *no requests recorded* | | | | | | | | | | |")
    return lines + [""]


def _row(label: str, api: str, s: Stats, status: str) -> str:
    cells = [label, api, str(s.requests), str(s.failures), _rate(s.success_rate),
             _ms(s.p50), _ms(s.p95), _ms(s.p99), _ms(s.max), _num(s.rps, 2), status]
    return "| " + " | ".join(cells) + " |"


_STATUS_LABELS = {"none": "—", "fail": "❌ fail", "not judged": "⚠️ not judged", "pass": "✅ pass"}


def _status(checks: list[Check], scope: str) -> str:
    return _STATUS_LABELS[scope_status(checks, scope)]


def _completeness_line(verdict: Verdict) -> str:
    c = verdict.measurements.completeness
    if c is None:
        return "**Completeness:** unknown — the listener's counts are missing."
    lost = f"; lost: {', '.join(f'`{_cell(w)}`' for w in c.lost_workers)}" if c.lost_workers else ""
    return (f"**Completeness:** {c.stored} of {c.seen} request points stored in InfluxDB "
            f"({c.missing} missing, {c.dropped} dropped, {c.spooled} spooled, {c.quarantined} quarantined, "
            f"{c.workers} workers reported{lost}).")


def _all_checks(checks: list[Check]) -> list[str]:
    if not checks:
        return []
    lines = ["<details><summary>All checks</summary>", "",
             "| | Scope | Check | Kind | Message |", "| --- | --- | --- | --- | --- |"]
    ordered = sorted(checks, key=lambda c: {False: 0, None: 1, True: 2}[c.passed])
    lines += [f"| {_MARKS[c.passed]} | `{_cell(c.scope)}` | {c.metric} | {c.kind} "
              f"| {_cell(c.message)} |" for c in ordered]
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

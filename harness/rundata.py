"""Long-lived run data (retention policy ``runs``): what was run, the limits in force, what the
verdict found. Trend dashboards read only these, so they keep working after raw points expire."""

from __future__ import annotations

import json
import time

from harness.influx.client import InfluxClient, WriteError, quote_ident, quote_string
from harness.influx.lineprotocol import make_line
from harness.errors import HarnessError
from harness.verdict.model import COMPARED, Stats, Verdict, summary_error_fields


def run_data_source(runs_rp: str, measurement: str) -> str:
    """``"runs"."run_summary"``, or the bare measurement when run data has no policy of its own."""
    return f"{quote_ident(runs_rp)}.{quote_ident(measurement)}" if runs_rp else quote_ident(measurement)


def write_lines(client: InfluxClient, lines: list[str], runs_rp: str) -> None:
    """Run data points, as one write; a failure is one line (HarnessError)."""
    try:
        client.write(("\n".join(lines) + "\n").encode("utf-8"), retention_policy=runs_rp)
    except WriteError as exc:
        raise HarnessError(f"cannot store run data: {exc}") from None


def event_line(run_id: str, test_env: str, kind: str, title: str, text: str, ts_ns: int | None = None,
               extra_tags: dict[str, str] | None = None) -> str:
    return make_line("events", {"run_id": run_id, "test_env": test_env, "type": kind, **(extra_tags or {})},
                     {"title": title, "text": text, "tags": f"{kind},{test_env}"}, ts_ns or time.time_ns())


def write_event(client: InfluxClient, runs_rp: str, run_id: str, test_env: str, kind: str, title: str,
                text: str) -> None:
    write_lines(client, [event_line(run_id, test_env, kind, title, text)], runs_rp)


def threshold_rows(thresholds, endpoint_apis: dict[str, str], generation_target: float | None) -> list[dict]:
    """The limits in force as ``threshold`` rows, plus the load generator's CPU warning line
    (not a check, but the CPU panel draws it from the run like the others)."""
    from harness.verdict.thresholds import thresholds_as_points

    rows = thresholds_as_points(thresholds, endpoint_apis, generation_target)
    if thresholds.max_cpu_percent is not None:
        rows.append({"scope": "run", "api": "", "endpoint": "", "metric": "cpu_percent",
                     "value": float(thresholds.max_cpu_percent)})
    return rows


def write_run(client: InfluxClient, runs_rp: str, run_id: str, test_env: str, fields: dict,
              ts_ns: int) -> None:
    """The ``run`` point: parameters, git sha, version, status. Re-written with the same timestamp
    when the status changes, so the stored point is always the latest."""
    write_lines(client, [make_line("run", {"run_id": run_id, "test_env": test_env}, fields, ts_ns)], runs_rp)


def write_thresholds(client: InfluxClient, runs_rp: str, run_id: str, test_env: str, rows: list[dict],
                     timestamps_ns: list[int]) -> None:
    """One ``threshold`` point per scope and metric at each timestamp (run start and end), so a
    dashboard can draw the limit as a line across the run."""
    lines = [make_line("threshold", {"run_id": run_id, "test_env": test_env, "scope": row["scope"],
                                     "api": row["api"], "endpoint": row["endpoint"], "metric": row["metric"]},
                       {"value": float(row["value"])}, ts)
             for row in rows for ts in timestamps_ns]
    if lines:
        write_lines(client, lines, runs_rp)


def _summary_fields(stats: Stats, verdict: str, compared: dict[str, object] | None = None) -> dict:
    """One ``run_summary`` row; ``compared`` is statistic → Comparison for this scope (a run judged
    against a baseline): its baseline value and decision go beside the run's own value."""
    fields = {"requests": stats.requests, "failures": stats.failures, "success_rate": stats.success_rate,
              "p50": stats.p50, "p95": stats.p95, "p99": stats.p99, "max": stats.max, "rps": stats.rps,
              "verdict_text": verdict, **summary_error_fields(stats)}
    for statistic, comparison in (compared or {}).items():
        fields[f"baseline_{statistic}"] = comparison.baseline
        fields[f"decision_{statistic}"] = comparison.decision
    return fields


def write_summary(client: InfluxClient, runs_rp: str, verdict: Verdict, peak_users: int | None) -> None:
    """``run_summary``: per endpoint, per API group and for the whole run, at the run's end."""
    m = verdict.measurements
    ts = int(m.end.timestamp() * 1e9)
    base = {"run_id": m.run_id, "test_env": m.test_env, "verdict": verdict.verdict}
    compared: dict[str, dict[str, object]] = {}
    for comparison in verdict.comparisons:
        compared.setdefault(comparison.scope, {})[comparison.statistic] = comparison
    lines = []
    for key, stats in m.endpoints.items():
        lines.append(make_line("run_summary", {**base, "scope": "endpoint", "api": stats.api, "endpoint": key},
                               _summary_fields(stats, verdict.verdict, compared.get(key)), ts))
    for api, stats in m.apis.items():
        lines.append(make_line("run_summary", {**base, "scope": "api", "api": api, "endpoint": f"api:{api}"},
                               _summary_fields(stats, verdict.verdict, compared.get(f"api:{api}")), ts))
    total_requests = sum(s.requests for s in m.apis.values())
    total_failures = sum(s.failures for s in m.apis.values())
    run_fields = {"requests": total_requests, "failures": total_failures,
                  "success_rate": 100.0 * (total_requests - total_failures) / total_requests if total_requests else None,
                  "rps": total_requests / m.duration_s if m.duration_s else 0.0,
                  "peak_users": peak_users, "generation_rate": m.generation_rate,
                  "duration_s": m.duration_s, "verdict_text": verdict.verdict,
                  "checks_failed": sum(1 for c in verdict.checks if c.passed is False)}
    regressed = [c for c in verdict.comparisons if c.decision == "regressed"]
    if verdict.baseline is not None:
        run_fields["baseline_runs"] = ",".join(verdict.baseline.run_ids)
        run_fields["regressions"] = len(regressed)
    lines.append(make_line("run_summary", {**base, "scope": "run", "api": "all", "endpoint": "run"}, run_fields, ts))
    text = f"{verdict.verdict.upper()}: " + ("; ".join(verdict.reasons[:5]) or "every check passed")
    lines.append(event_line(m.run_id, m.test_env, "verdict", f"Verdict: {verdict.verdict}", text, ts + 1))
    if regressed:
        lines.append(event_line(m.run_id, m.test_env, "regression", _regression_title(regressed),
                                "; ".join(c.reason for c in regressed), ts + 2))
    if verdict.comparisons:
        # The same points the run wrote at its start, now with the verdict's exact values.
        start_ns = _first_threshold_ns(client, runs_rp, m.run_id) or int(m.start.timestamp() * 1e9) - int(m.warmup_s * 1e9)
        lines += _baseline_lines(m.run_id, m.test_env, _comparison_rows(verdict.comparisons),
                                 verdict.baseline.run_ids if verdict.baseline else (), [start_ns, ts])
    write_lines(client, lines, runs_rp)


def _regression_title(regressed: list) -> str:
    scopes = sorted({f"{c.scope} {c.statistic}" for c in regressed})
    shown = ", ".join(scopes[:3]) + (f" and {len(scopes) - 3} more" if len(scopes) > 3 else "")
    return f"REGRESSED: {shown}"


# -- the baseline on the dashboards ---------------------------------------------------------------


def _comparison_rows(comparisons) -> list[dict]:
    return [{"scope": c.scope, "api": c.api, "endpoint": c.endpoint, "metric": c.statistic,
             "value": c.baseline, "limit": c.limit} for c in comparisons if c.baseline is not None]


def _baseline_lines(run_id: str, test_env: str, rows: list[dict], baseline_runs, timestamps_ns: list[int]) -> list[str]:
    """Per scope and statistic, a ``baseline`` point (the baseline's value) and a ``threshold``
    point with metric ``<statistic>_regression`` (the regression limit), at each timestamp."""
    lines = []
    for row in rows:
        tags = {"run_id": run_id, "test_env": test_env, "scope": row["scope"], "api": row["api"],
                "endpoint": row["endpoint"], "metric": row["metric"]}
        for ts in timestamps_ns:
            lines.append(make_line("baseline", tags, {"value": float(row["value"]),
                                                      "baseline_runs": ",".join(baseline_runs)}, ts))
            if row["limit"] is not None:
                lines.append(make_line("threshold", {**tags, "metric": f"{row['metric']}_regression"},
                                       {"value": float(row["limit"])}, ts))
    return lines


def _first_threshold_ns(client: InfluxClient, runs_rp: str, run_id: str) -> int | None:
    """When the run's limit lines begin (``harness run`` writes them at its start)."""
    series = client.query(f'SELECT first("value") FROM {run_data_source(runs_rp, "threshold")} '
                          f'WHERE "run_id" = {quote_string(run_id)}')
    return int(series[0]["values"][0][0]) if series else None


def write_baseline_at_start(client: InfluxClient, runs_rp: str, run_id: str, test_env: str, spec: str,
                            thresholds, start_ns: int, force: bool = False):
    """For ``harness run --baseline``: the baseline's values and regression limits, stored at the
    run's start so the live dashboard draws them while the run is in progress. The baseline is
    chosen and read the way the verdict will (stored summaries, else raw points; the median of
    several runs), and the verdict rewrites the same points with what it compared. Returns the
    ``BaselineInfo``: nothing is written when no baseline is usable."""
    # Imported here: harness.verdict.baseline imports this module.
    from harness.verdict.baseline import choose_baseline, load_baseline
    from harness.verdict.compare import regression_limit

    info = choose_baseline(client, spec, run_id=run_id, test_env=test_env, runs_rp=runs_rp, force=force)
    if info.unusable or not info.run_ids:
        return info
    baseline = load_baseline(client, info, thresholds, runs_rp)
    scopes = ([(key, stats.api, key, stats) for key, stats in baseline.endpoints.items()]
              + [(f"api:{api}", api, "", stats) for api, stats in baseline.apis.items()])
    rows = [{"scope": scope, "api": api, "endpoint": endpoint, "metric": statistic, "value": value,
             "limit": regression_limit(thresholds, statistic, value)}
            for scope, api, endpoint, stats in scopes for statistic in COMPARED
            if (value := stats.value(statistic)) is not None]
    if rows:
        write_lines(client, _baseline_lines(run_id, test_env, rows, info.run_ids, [start_ns]), runs_rp)
    return info


def thresholds_json(thresholds) -> str:
    return json.dumps(thresholds.to_dict(), sort_keys=True)

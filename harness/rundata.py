"""Long-lived run data (retention policy ``runs``): what was run, the limits in force, what the
verdict found. Trend dashboards read only these, so they keep working after raw points expire.

Written through the same BatchWriter as request points: retried with backoff, and what InfluxDB
did not take in time waits in the spool (folder ``<database>/<run id>/harness``) for
``harness flush`` or the next ``harness run``; the command carries on with a warning."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from harness import __version__
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import BASELINE, RUN, RUN_SUMMARY, THRESHOLD, event_line, run_data_source
from harness.influx.lineprotocol import make_line
from harness.influx.spool import Spool, default_root, worker_spool_dir
from harness.influx.writer import BatchWriter
from harness.verdict import (
    COMPARED,
    ApiLoad,
    Comparison,
    Latency,
    Stats,
    Verdict,
    choose_baseline,
    load_baseline,
    regression_limit,
    summary_error_fields,
    thresholds_as_points,
)

RETRY_S = 15.0  # a 503 or a restart of InfluxDB is retried; an outage longer than this goes to the spool
SPOOL_WORKER = "harness"  # the spool folder of run data written by harness commands


def write_lines(client: InfluxClient, lines: list[str], runs_rp: str, run_id: str) -> None:
    """Run data points of one run (its spool folder is named after it), as one write."""
    spool = Spool(worker_spool_dir(default_root(), client.settings.database, run_id, SPOOL_WORKER))
    writer = BatchWriter(client, max_pending_points=len(lines), spool=spool)
    writer.add(lines, runs_rp)
    # Earlier run data of this run still in the spool goes first, so the latest status wins.
    writer.drain(RETRY_S)
    if not writer.idle:
        cause = writer.refused or writer.counts.first_error
        print(
            f"harness: warning: run data of run {run_id} is not stored yet ({cause}); it waits in "
            f"{spool.directory}: run 'harness flush' when InfluxDB takes it",
            file=sys.stderr,
        )


@dataclass(frozen=True)
class RunRecord:
    """One run's long-lived data: where it goes (client, retention policy) and whose it is (run id,
    test env). The writers of a run's points are its methods, so a command names the run once."""

    client: InfluxClient
    runs_rp: str
    run_id: str
    test_env: str

    def write_lines(self, lines: list[str]) -> None:
        write_lines(self.client, lines, self.runs_rp, self.run_id)

    def write_event(self, kind: str, title: str, text: str) -> None:
        self.write_lines([event_line(self.run_id, self.test_env, kind, title, text)])

    def write_run(self, fields: dict, ts_ns: int) -> None:
        """The ``run`` point: parameters, git sha, version, status. Re-written with the same timestamp
        when the status changes, so the stored point is always the latest."""
        self.write_lines(
            [make_line(RUN.name, {"run_id": self.run_id, "test_env": self.test_env}, fields, ts_ns)]
        )

    def write_thresholds(self, rows: list[dict], timestamps_ns: list[int]) -> None:
        """One ``threshold`` point per scope and metric at each timestamp (run start and end), so a
        dashboard can draw the limit as a line across the run."""
        lines = [
            make_line(
                THRESHOLD.name,
                {
                    "run_id": self.run_id,
                    "test_env": self.test_env,
                    "scope": row["scope"],
                    "api": row["api"],
                    "endpoint": row["endpoint"],
                    "metric": row["metric"],
                },
                {"value": float(row["value"])},
                ts,
            )
            for row in rows
            for ts in timestamps_ns
        ]
        if lines:
            self.write_lines(lines)

    def write_baseline_at_start(self, spec: str, thresholds, start_ns: int, force: bool = False):
        """For ``harness run --baseline``: the baseline's values and regression limits, stored at the
        run's start so the live dashboard draws them while the run is in progress. The baseline is
        chosen and read the way the verdict will (stored summaries, else raw points; the median of
        several runs), and the verdict rewrites the same points with what it compared. Returns the
        ``BaselineInfo``: nothing is written when no baseline is usable."""
        info = choose_baseline(
            self.client, spec, run_id=self.run_id, test_env=self.test_env, runs_rp=self.runs_rp, force=force
        )
        if info.unusable or not info.run_ids:
            return info
        baseline = load_baseline(self.client, info, thresholds, self.runs_rp)
        scopes = [(key, stats.api, key, stats) for key, stats in baseline.endpoints.items()] + [
            (f"api:{api}", api, "", stats) for api, stats in baseline.apis.items()
        ]
        rows = [
            {
                "scope": scope,
                "api": api,
                "endpoint": endpoint,
                "metric": statistic,
                "value": value,
                "limit": regression_limit(thresholds, statistic, value),
            }
            for scope, api, endpoint, stats in scopes
            for statistic in COMPARED
            if (value := stats.value(statistic)) is not None
        ]
        if rows:
            self.write_lines(_baseline_lines(self.run_id, self.test_env, rows, info.run_ids, [start_ns]))
        return info

    def store_verdict(self, verdict: Verdict) -> None:
        store_verdict(self.client, self.runs_rp, verdict)


def threshold_rows(thresholds, endpoint_apis: dict[str, str], generation_target: float | None) -> list[dict]:
    """The limits in force as ``threshold`` rows, plus the load generator's CPU warning line and its
    event-loop lag limit (not checks of their own, but panels draw them from the run like the others)."""
    rows = thresholds_as_points(thresholds, endpoint_apis, generation_target)
    if thresholds.max_cpu_percent is not None:
        rows.append(
            {
                "scope": "run",
                "api": "",
                "endpoint": "",
                "metric": "cpu_percent",
                "value": float(thresholds.max_cpu_percent),
            }
        )
    if thresholds.load.max_loop_lag_ms is not None:  # the event-loop lag panel's line, likewise
        rows.append(
            {
                "scope": "run",
                "api": "",
                "endpoint": "",
                "metric": "loop_lag_ms",
                "value": float(thresholds.load.max_loop_lag_ms),
            }
        )
    return rows


def _summary_fields(
    stats: Stats,
    verdict: str,
    scheduled: Latency | None = None,
    compared: dict[str, Comparison] | None = None,
) -> dict:
    """One ``run_summary`` row; ``compared`` is statistic → Comparison for this scope (a run judged
    against a baseline): its baseline value and decision go beside the run's own value."""
    fields: dict[str, Any] = {
        "requests": stats.requests,
        "failures": stats.failures,
        "success_rate": stats.success_rate,
        "p50": stats.p50,
        "p95": stats.p95,
        "p99": stats.p99,
        "max": stats.max,
        "rps": stats.rps,
        "verdict_text": verdict,
        **summary_error_fields(stats),
    }
    if scheduled is not None:  # arrival model: latency from the scheduled start, beside the service time
        fields.update(p95_scheduled=scheduled.p95, p99_scheduled=scheduled.p99)
    for statistic, comparison in (compared or {}).items():
        fields[f"baseline_{statistic}"] = comparison.baseline
        fields[f"decision_{statistic}"] = comparison.decision
    return fields


def _load_fields(load: ApiLoad | None) -> dict:
    """Arrival model, per API: the rate asked and achieved over the judged windows, late and dropped."""
    if load is None:
        return {}
    return {
        "target_per_s": float(load.target_per_s),
        "achieved_per_s": load.achieved_per_s,
        "late": load.late,
        "dropped": load.dropped,
    }


def write_summary(client: InfluxClient, runs_rp: str, verdict: Verdict, peak_users: int | None) -> None:
    """``run_summary``: per endpoint, per API group and for the whole run, at the run's end."""
    m = verdict.measurements
    ts = int(m.end.timestamp() * 1e9)
    base = {"run_id": m.run_id, "test_env": m.test_env, "verdict": verdict.verdict}
    compared: dict[str, dict[str, Comparison]] = {}
    for comparison in verdict.comparisons:
        compared.setdefault(comparison.scope, {})[comparison.statistic] = comparison
    lines = []
    stats: Stats
    for key, stats in m.endpoints.items():
        lines.append(
            make_line(
                RUN_SUMMARY.name,
                {**base, "scope": "endpoint", "api": stats.api, "endpoint": key},
                _summary_fields(stats, verdict.verdict, m.scheduled.get(key), compared.get(key)),
                ts,
            )
        )
    for api, stats in m.apis.items():
        lines.append(
            make_line(
                RUN_SUMMARY.name,
                {**base, "scope": "api", "api": api, "endpoint": f"api:{api}"},
                {
                    **_summary_fields(
                        stats, verdict.verdict, m.scheduled_apis.get(api), compared.get(f"api:{api}")
                    ),
                    **_load_fields(m.load.get(api)),
                },
                ts,
            )
        )
    total_requests = sum(s.requests for s in m.apis.values())
    total_failures = sum(s.failures for s in m.apis.values())
    run_fields: dict[str, Any] = {
        "requests": total_requests,
        "failures": total_failures,
        "success_rate": 100.0 * (total_requests - total_failures) / total_requests
        if total_requests
        else None,
        "rps": total_requests / m.duration_s if m.duration_s else 0.0,
        "peak_users": peak_users,
        "generation_rate": m.generation_rate,
        "duration_s": m.duration_s,
        "verdict_text": verdict.verdict,
        "checks_failed": sum(1 for c in verdict.checks if c.passed is False),
        "load_model": m.load_model,
        **(
            {"late": sum(a.late for a in m.load.values()), "dropped": sum(a.dropped for a in m.load.values())}
            if m.load_model == "arrival"
            else {}
        ),
    }
    regressed = [c for c in verdict.comparisons if c.decision == "regressed"]
    if verdict.baseline is not None:
        run_fields["baseline_runs"] = ",".join(verdict.baseline.run_ids)
        run_fields["regressions"] = len(regressed)
    lines.append(
        make_line(RUN_SUMMARY.name, {**base, "scope": "run", "api": "all", "endpoint": "run"}, run_fields, ts)
    )
    text = f"{verdict.verdict.upper()}: " + ("; ".join(verdict.reasons[:5]) or "every check passed")
    lines.append(event_line(m.run_id, m.test_env, "verdict", f"Verdict: {verdict.verdict}", text, ts + 1))
    if regressed:
        lines.append(
            event_line(
                m.run_id,
                m.test_env,
                "regression",
                _regression_title(regressed),
                "; ".join(c.reason for c in regressed),
                ts + 2,
            )
        )
    if verdict.comparisons:
        # The same points the run wrote at its start, now with the verdict's exact values.
        start_ns = _first_threshold_ns(client, runs_rp, m.run_id) or int(m.start.timestamp() * 1e9) - int(
            m.warmup_s * 1e9
        )
        lines += _baseline_lines(
            m.run_id,
            m.test_env,
            _comparison_rows(verdict.comparisons),
            verdict.baseline.run_ids if verdict.baseline else (),
            [start_ns, ts],
        )
    write_lines(client, lines, runs_rp, m.run_id)


def _regression_title(regressed: list) -> str:
    scopes = sorted({f"{c.scope} {c.statistic}" for c in regressed})
    shown = ", ".join(scopes[:3]) + (f" and {len(scopes) - 3} more" if len(scopes) > 3 else "")
    return f"REGRESSED: {shown}"


# -- the baseline on the dashboards ---------------------------------------------------------------


def _comparison_rows(comparisons) -> list[dict]:
    return [
        {
            "scope": c.scope,
            "api": c.api,
            "endpoint": c.endpoint,
            "metric": c.statistic,
            "value": c.baseline,
            "limit": c.limit,
        }
        for c in comparisons
        if c.baseline is not None
    ]


def _baseline_lines(
    run_id: str, test_env: str, rows: list[dict], baseline_runs, timestamps_ns: list[int]
) -> list[str]:
    """Per scope and statistic, a ``baseline`` point (the baseline's value) and a ``threshold``
    point with metric ``<statistic>_regression`` (the regression limit), at each timestamp."""
    lines = []
    for row in rows:
        tags = {
            "run_id": run_id,
            "test_env": test_env,
            "scope": row["scope"],
            "api": row["api"],
            "endpoint": row["endpoint"],
            "metric": row["metric"],
        }
        for ts in timestamps_ns:
            lines.append(
                make_line(
                    BASELINE.name,
                    tags,
                    {"value": float(row["value"]), "baseline_runs": ",".join(baseline_runs)},
                    ts,
                )
            )
            if row["limit"] is not None:
                lines.append(
                    make_line(
                        THRESHOLD.name,
                        {**tags, "metric": f"{row['metric']}_regression"},
                        {"value": float(row["limit"])},
                        ts,
                    )
                )
    return lines


def _first_threshold_ns(client: InfluxClient, runs_rp: str, run_id: str) -> int | None:
    """When the run's limit lines begin (``harness run`` writes them at its start)."""
    series = client.query(
        f'SELECT first("value") FROM {run_data_source(runs_rp, THRESHOLD)} '
        f'WHERE "run_id" = {quote_string(run_id)}'
    )
    return int(series[0]["values"][0][0]) if series else None


def store_verdict(client: InfluxClient, runs_rp: str, verdict: Verdict) -> None:
    """The verdict of a judged run in InfluxDB: ``run_summary`` and the verdict annotation."""
    # The verdict's own figure (harness.verdict.peak_users over the run): run_summary stores what
    # the verdict judged with, not a second reading of it.
    write_summary(client, runs_rp, verdict, verdict.measurements.peak_users)


def thresholds_json(thresholds) -> str:
    return json.dumps(thresholds.to_dict(), sort_keys=True)


def record_plain_run(
    client: InfluxClient,
    runs_rp: str,
    verdict: Verdict,
    thresholds,
    target: float | None,
    description: str,
    counted: int | None = None,
) -> None:
    """A run started with plain ``locust`` has no ``run`` or ``threshold`` points; write them when it
    is judged (``harness check``, ``locust --verdict``), so its dashboards draw limit lines and the
    history table lists it. Runs made by ``harness run`` already have both and are left as they are."""
    m = verdict.measurements
    source = run_data_source(runs_rp, RUN)
    if client.query(f'SELECT last("status") FROM {source} WHERE "run_id" = {quote_string(m.run_id)}'):
        return
    start_ns = int(m.start.timestamp() * 1e9) - int(m.warmup_s * 1e9)
    end_ns = int(m.end.timestamp() * 1e9)
    record = RunRecord(client, runs_rp, m.run_id, m.test_env)
    record.write_run(
        {
            "status": "checked",
            "version": __version__,
            "thresholds": thresholds_json(thresholds),
            "warmup_s": float(thresholds.warmup_s),
            "verdict": verdict.verdict,
            "description": description,
            "requests_counted": counted,  # Locust's own count, when the judge had it
        },
        start_ns,
    )
    endpoint_apis = {key: stats.api for key, stats in m.endpoints.items()}
    record.write_thresholds(threshold_rows(thresholds, endpoint_apis, target), [start_ns, end_ns])

"""A test env's judged runs as one series per endpoint and statistic (from ``run_summary``), and the
change points found in them stored as ``events`` the history dashboard draws. The query layer of
``harness history``; the detection itself is harness/history/changepoints.py."""

from __future__ import annotations

from dataclasses import dataclass

from harness.history.changepoints import Shift
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import EVENT_CHANGE_POINT, event_line, run_data_source
from harness.rundata import write_lines

STATISTICS = ("p95", "success_rate")
UNITS = {"p95": "ms", "success_rate": "%"}


@dataclass(frozen=True)
class RunValue:
    time_ns: int  # the run's run_summary time: the end of its judged window
    run_id: str
    value: float


@dataclass(frozen=True)
class ChangePoint:
    endpoint: str
    statistic: str
    shift: Shift
    first: RunValue  # the first run at the new level
    last_before: RunValue  # the run before it

    @property
    def label(self) -> str:
        return f"{self.endpoint} {self.statistic}"

    def describe(self) -> str:
        unit = UNITS[self.statistic]
        percent = self.shift.change_percent
        change = f"{self.shift.change:+.3g} {unit}" + (f", {percent:+.0f} %" if percent is not None else "")
        return (
            f"{self.label}: {self.shift.before:.4g} → {self.shift.after:.4g} {unit} ({change}) "
            f"from run {self.first.run_id} (after {self.last_before.run_id})"
        )


def test_envs(client: InfluxClient, runs_rp: str) -> list[str]:
    series = client.query(
        f'SHOW TAG VALUES FROM {run_data_source(runs_rp, "run_summary")} WITH KEY = "test_env"'
    )
    return sorted({row[1] for s in series for row in s.get("values", [])})


def load_series(client: InfluxClient, runs_rp: str, test_env: str, last: int) -> tuple[list[str], dict]:
    """The newest ``last`` judged runs of ``test_env`` (oldest first) and, per (endpoint, statistic),
    each run's value in time order; runs that did not call an endpoint are absent from its series."""
    fields = ", ".join(f'"{s}"' for s in STATISTICS)
    series = client.query(
        f'SELECT {fields}, "run_id" FROM {run_data_source(runs_rp, "run_summary")} '
        f'WHERE "test_env" = {quote_string(test_env)} AND "scope" = \'endpoint\' '
        'GROUP BY "endpoint"'
    )
    rows = [(s["tags"]["endpoint"], dict(zip(s["columns"], row))) for s in series for row in s["values"]]
    ends: dict[str, int] = {}
    for _, row in rows:
        ends[row["run_id"]] = max(ends.get(row["run_id"], 0), int(row["time"]))
    runs = sorted(ends, key=lambda run_id: ends[run_id])[-last:]
    kept = set(runs)
    found: dict[tuple[str, str], list[RunValue]] = {}
    for endpoint, row in sorted(rows, key=lambda item: int(item[1]["time"])):
        if row["run_id"] not in kept:
            continue
        for statistic in STATISTICS:
            if row.get(statistic) is not None:
                found.setdefault((endpoint, statistic), []).append(
                    RunValue(int(row["time"]), row["run_id"], float(row[statistic]))
                )
    return runs, found


def change_point_lines(test_env: str, points: list[ChangePoint]) -> list[str]:
    """One ``events`` point (type ``change_point``) per change, at the first run of the new level.
    Tagged with the endpoint and statistic, so several changes at one run stay apart and storing
    the same analysis again overwrites its own points."""
    return [
        event_line(
            p.first.run_id,
            test_env,
            EVENT_CHANGE_POINT,
            f"Change point: {p.label}",
            p.describe(),
            p.first.time_ns + 3,
            extra_tags={"scope": p.label},
        )
        for p in points
    ]


def store_change_points(client: InfluxClient, runs_rp: str, test_env: str, points: list[ChangePoint]) -> None:
    if points:
        # Run data goes through a run's spool folder when InfluxDB does not take it: the first change
        # point's run names it.
        write_lines(
            client,
            change_point_lines(test_env, points),
            runs_rp,
            points[0].first.run_id or f"history-{test_env}",
        )

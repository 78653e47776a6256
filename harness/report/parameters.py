"""The run's parameters as ``harness run`` stored them (the ``run`` point, long-lived policy)."""

from __future__ import annotations

import json
from typing import Any

from harness.influx.client import InfluxClient, QueryError, quote_string
from harness.influx.datamodel import RUN, run_data_source

# Shown first, in this order; any other stored field follows alphabetically.
ORDER = (
    "status",
    "verdict",
    "host",
    "users",
    "spawn_rate",
    "run_time_s",
    "processes",
    "description",
    "git_sha",
    "version",
)


def read_parameters(client: InfluxClient, run_id: str, runs_rp: str = "runs") -> dict[str, Any] | None:
    """The fields of the run's ``run`` point (thresholds JSON decoded), or None when the run was
    not started by ``harness run`` (e.g. plain ``locust`` with the listener) or the policy is missing."""
    source = run_data_source(runs_rp, RUN)
    try:
        series = client.query(f'SELECT * FROM {source} WHERE "run_id" = {quote_string(run_id)}', epoch="ns")
    except QueryError as exc:
        if "retention policy not found" in str(exc):
            return None
        raise
    if not series or not series[0].get("values"):
        return None
    columns, values = series[0]["columns"], series[0]["values"][-1]  # the latest write wins
    row = {c: v for c, v in zip(columns, values) if v is not None and c not in ("time", "run_id")}
    if isinstance(row.get("thresholds"), str):
        try:
            row["thresholds"] = json.loads(row["thresholds"])
        except ValueError:
            pass  # shown as stored: a report must not fail on a damaged optional field
    ordered = {k: row.pop(k) for k in ORDER if k in row}
    return {**ordered, **dict(sorted(row.items()))}

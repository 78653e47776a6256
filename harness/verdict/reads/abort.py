"""Reading a run's abort: the ``events`` point of type ``abort`` the live checks wrote, with its
window read again from the complete stored points and the judged run's counts (its confirmation
is on the points outside the window: decide/abort.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import EVENT_ABORT, EVENTS, run_data_source
from harness.verdict.decide.sequential import TESTED
from harness.verdict.decide.window import latency_limits
from harness.verdict.model import AbortRecord, Breach
from harness.verdict.reads.window import measure_window
from harness.verdict.rules.thresholds import Thresholds


def _abort_events(client: InfluxClient, run_id: str, runs_rp: str, columns: str) -> list[dict[str, Any]]:
    return client.query(
        f"SELECT {columns} FROM {run_data_source(runs_rp, EVENTS)} "
        f'WHERE "run_id" = {quote_string(run_id)} AND "type" = {quote_string(EVENT_ABORT)} LIMIT 1'
    )


def was_aborted(client: InfluxClient, run_id: str, runs_rp: str) -> bool:
    return bool(_abort_events(client, run_id, runs_rp, '"kind"'))


def read_abort(
    client: InfluxClient,
    run_id: str,
    runs_rp: str,
    thresholds: Thresholds | None = None,
    judged_ns: tuple[int, int] | None = None,
    source: str = "requests",
) -> AbortRecord | None:
    """The run's abort, with its window read again from the stored points and the counts of the
    judged run ``judged_ns`` (for the confirmation); None if it ran its course."""
    series = _abort_events(
        client,
        run_id,
        runs_rp,
        '"at_s", "kind", "window_start", "window_end", "breaches", "test_env", "look", "looks", "alpha"',
    )
    if not series or not series[0]["values"]:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0]))
    try:
        breaches = tuple(Breach(**b) for b in json.loads(row["breaches"]))
        record = AbortRecord(
            at_s=float(row["at_s"]),
            time_ns=int(row["time"]),
            kind=row["kind"],
            start_ns=int(row["window_start"]),
            end_ns=int(row["window_end"]),
            breaches=breaches,
            look=int(row.get("look") or 1),
            looks=int(row.get("looks") or 0) or None,
            alpha=float(row["alpha"]) if row.get("alpha") is not None else 0.01,
        )
        if not breaches or record.kind not in ("fail", "inconclusive"):
            raise ValueError("no failed check in it")
    except (TypeError, ValueError) as exc:
        # Never judged as if it ran its course: an aborted run that passed would be a lie.
        raise HarnessError(
            f"run {run_id!r} has an abort event that cannot be read ({exc}); it was stopped "
            f"early and cannot be judged"
        ) from None
    checks = tuple(dict.fromkeys(b.metric for b in breaches))
    limits = {float(b.threshold) for b in breaches if b.metric in TESTED and b.metric != "success_rate"}
    if thresholds is not None:
        limits |= set(latency_limits(thresholds, checks))
    test_env = row.get("test_env") or ""
    exact = measure_window(
        client, run_id, record.start_ns, record.end_ns, checks, test_env, tuple(sorted(limits)), source
    )
    judged = None
    if judged_ns is not None:
        # Counts only (no percentile pass over the whole run): requests, failures, slow requests.
        judged = measure_window(
            client,
            run_id,
            judged_ns[0],
            judged_ns[1],
            ("success_rate",),
            test_env,
            tuple(sorted(limits)),
            source,
        )
    return replace(record, exact=exact, judged=judged)

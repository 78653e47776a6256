"""Reading a run's abort: the ``events`` point of type ``abort`` the live checks wrote, with its
window read again from the complete stored points."""

from __future__ import annotations

import json
from dataclasses import replace

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import EVENT_ABORT, EVENTS, run_data_source
from harness.verdict.model import AbortRecord, Breach
from harness.verdict.reads.window import measure_window


def _abort_events(client: InfluxClient, run_id: str, runs_rp: str, columns: str) -> list[dict]:
    return client.query(f'SELECT {columns} FROM {run_data_source(runs_rp, EVENTS)} '
                        f'WHERE "run_id" = {quote_string(run_id)} AND "type" = {quote_string(EVENT_ABORT)} LIMIT 1')


def was_aborted(client: InfluxClient, run_id: str, runs_rp: str) -> bool:
    return bool(_abort_events(client, run_id, runs_rp, '"kind"'))


def read_abort(client: InfluxClient, run_id: str, runs_rp: str) -> AbortRecord | None:
    """The run's abort, with its window read again from the stored points; None if it ran its course."""
    series = _abort_events(client, run_id, runs_rp, '"at_s", "kind", "window_start", "window_end", "breaches", '
                                                    '"test_env"')
    if not series or not series[0]["values"]:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0]))
    try:
        breaches = tuple(Breach(**b) for b in json.loads(row["breaches"]))
        record = AbortRecord(at_s=float(row["at_s"]), time_ns=int(row["time"]), kind=row["kind"],
                             start_ns=int(row["window_start"]), end_ns=int(row["window_end"]), breaches=breaches)
        if not breaches or record.kind not in ("fail", "inconclusive"):
            raise ValueError("no failed check in it")
    except (TypeError, ValueError) as exc:
        # Never judged as if it ran its course: an aborted run that passed would be a lie.
        raise HarnessError(f"run {run_id!r} has an abort event that cannot be read ({exc}); it was stopped "
                           f"early and cannot be judged") from None
    checks = tuple(dict.fromkeys(b.metric for b in breaches))
    return replace(record, exact=measure_window(client, run_id, record.start_ns, record.end_ns, checks,
                                                row.get("test_env") or ""))

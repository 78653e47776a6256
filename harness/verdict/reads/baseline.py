"""Which stored run(s) a run is compared with (``--baseline RUN_ID | last-pass | last-N-pass``),
whether their load matches, and their values and spreads (I/O; the comparison itself is pure,
``compare.py``).

A baseline's numbers come from its ``run_summary`` rows when they hold the per-window spread
(``summary_error_fields``), so a baseline costs no pass over its raw points and outlives them;
otherwise from its raw points, measured as the run itself is.
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, quote_string
from harness.influx.datamodel import run_data_source
from harness.verdict.decide.run_unit import baseline_of
from harness.verdict.model import (
    Baseline,
    BaselineInfo,
    BaselineRun,
    EndpointStats,
    Stats,
    spread_from_fields,
)
from harness.verdict.reads.measure import measure
from harness.verdict.rules.thresholds import Thresholds

# Fields of the ``run`` point that describe the offered load; two runs are compared only when
# every one of these that both runs have is equal (a field only one run has is not compared).
LOAD_FIELDS = ("users", "spawn_rate", "run_time_s", "processes", "load_model", "rates", "profile")
_LAST_N = re.compile(r"^last-(?:(\d+)-)?pass$")
# How many passing runs, newest first, are searched for ones with the same load.
_SEARCH = 200
_STAT_FIELDS = ("requests", "failures", "success_rate", "p50", "p95", "p99", "max", "rps")


def parse_spec(spec: str) -> int | None:
    """N for ``last-pass`` (1) and ``last-N-pass``; None for a run id."""
    found = _LAST_N.match(spec)
    if not found:
        return None
    n = int(found.group(1) or 1)
    if n < 1:
        raise HarnessError(f"--baseline {spec}: N must be 1 or more, e.g. last-3-pass")
    return n


def run_load(client: InfluxClient, runs_rp: str, run_id: str) -> dict[str, Any] | None:
    """The load fields of a run's ``run`` point; None when the run has none (not started by
    ``harness run``)."""
    series = client.query(
        f'SELECT * FROM {run_data_source(runs_rp, "run")} WHERE "run_id" = {quote_string(run_id)}'
    )
    if not series or not series[0].get("values"):
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][-1]))
    return {key: row[key] for key in LOAD_FIELDS if row.get(key) is not None}


def load_difference(mine: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str | None:
    """ "users 40 here, 20 in the baseline; …" for the load fields both runs have; None if equal."""
    if not mine or not theirs:
        return None
    differ = []
    for key in LOAD_FIELDS:
        if key in mine and key in theirs and not _same(mine[key], theirs[key]):
            differ.append(f"{key} {_show(mine[key])} here, {_show(theirs[key])} in the baseline")
    return "; ".join(differ) or None


def _same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def passing_runs(client: InfluxClient, test_env: str, runs_rp: str, exclude: str) -> list[str]:
    """Run ids of ``test_env`` whose stored verdict was pass, newest first."""
    series = client.query(
        f'SELECT last("requests") FROM {run_data_source(runs_rp, "run_summary")} WHERE "test_env" = {quote_string(test_env)} '
        f'AND "scope" = \'run\' AND "verdict" = \'pass\' AND "run_id" != {quote_string(exclude)} GROUP BY "run_id"'
    )
    newest = sorted(
        ((s["values"][0][0], s["tags"]["run_id"]) for s in series if s.get("values")), reverse=True
    )
    return [run_id for _, run_id in newest]


def choose_baseline(
    client: InfluxClient, spec: str, *, run_id: str, test_env: str, runs_rp: str, force: bool = False
) -> BaselineInfo:
    """The run(s) to compare with, or why there are none (``BaselineInfo.unusable``)."""
    mine = run_load(client, runs_rp, run_id)
    wanted = parse_spec(spec)
    if wanted is None:
        if spec == run_id:
            raise HarnessError(f"--baseline {spec}: a run cannot be its own baseline")
        return _explicit(client, spec, runs_rp, mine, force)
    candidates = passing_runs(client, test_env, runs_rp, exclude=run_id)[:_SEARCH]
    if not candidates:
        return BaselineInfo(
            spec,
            (),
            unusable=f"--baseline {spec}: no passing run of test env {test_env!r} is "
            f"stored yet: nothing to compare with (this run can be the baseline "
            f"of the next)",
        )
    if force:
        chosen = candidates[:wanted]
        difference = load_difference(mine, run_load(client, runs_rp, chosen[0]))
        return _info(spec, chosen, wanted, forced=True, load_difference=difference)
    chosen = []
    first_difference: tuple[str, str] | None = None
    for candidate in candidates:
        difference = load_difference(mine, run_load(client, runs_rp, candidate))
        if difference is None:
            chosen.append(candidate)
            if len(chosen) == wanted:
                break
        elif first_difference is None:
            first_difference = (candidate, difference)
    if not chosen:
        assert first_difference is not None  # candidates is not empty and none was chosen
        other, difference = first_difference
        return BaselineInfo(
            spec,
            (),
            unusable=f"--baseline {spec}: no passing run of test env {test_env!r} had this "
            f"run's load (newest, {other}: {difference}): not compared; "
            f"--baseline-force compares anyway",
        )
    return _info(spec, chosen, wanted)


def _info(spec: str, chosen: list[str], wanted: int, **more: Any) -> BaselineInfo:
    note = (
        (
            f"--baseline {spec}: only {len(chosen)} passing run(s) with this load are stored: comparing with "
            f"{'it' if len(chosen) == 1 else 'their mean'}"
        )
        if len(chosen) < wanted
        else None
    )
    return BaselineInfo(spec, tuple(chosen), method="mean" if len(chosen) > 1 else "run", note=note, **more)


def _explicit(
    client: InfluxClient, spec: str, runs_rp: str, mine: dict[str, Any] | None, force: bool
) -> BaselineInfo:
    where = f'"run_id" = {quote_string(spec)}'
    known = client.query(
        f'SELECT last("requests") FROM {run_data_source(runs_rp, "run_summary")} WHERE {where}'
    ) or client.query(f'SELECT last("response_time") FROM "request" WHERE {where}')
    if not known:
        raise HarnessError(
            f"--baseline {spec}: no run {spec!r} is stored in database {client.settings.database!r} "
            f"(neither its summary nor its request points)"
        )
    difference = load_difference(mine, run_load(client, runs_rp, spec))
    if difference and not force:
        return BaselineInfo(
            spec,
            (spec,),
            load_difference=difference,
            unusable=f"baseline run {spec} not compared: its load differs ({difference}); "
            f"--baseline-force compares anyway",
        )
    return BaselineInfo(spec, (spec,), forced=force and difference is not None, load_difference=difference)


def resolve_baseline_runs(
    client: InfluxClient, spec: str, test_env: str, runs_rp: str, exclude: str
) -> tuple[str, ...]:
    """The run ids the verdict will compare run ``exclude`` with (empty when none); no measuring.
    For the dashboards, which draw the baseline from the run's start."""
    return choose_baseline(client, spec, run_id=exclude, test_env=test_env, runs_rp=runs_rp).run_ids


def load_baseline(client: InfluxClient, info: BaselineInfo, thresholds: Thresholds, runs_rp: str) -> Baseline:
    """The chosen runs' values and spreads: each run's own (their spread is the run-to-run variation,
    ``run_unit.py``) and, for several runs, the mean of their values."""
    if not info.run_ids:
        return Baseline(info)
    return baseline_of(
        info,
        [BaselineRun(run_id, *_run_stats(client, run_id, thresholds, runs_rp)) for run_id in info.run_ids],
    )


def _run_stats(
    client: InfluxClient, run_id: str, thresholds: Thresholds, runs_rp: str
) -> tuple[dict[str, EndpointStats], dict[str, Stats]]:
    stored = stored_stats(client, run_id, runs_rp)
    if stored is not None:
        return stored
    try:
        measured = measure(
            client,
            run_id,
            warmup_s=thresholds.warmup_s,
            runs_rp=runs_rp,
            windows=thresholds.regression.windows,
        )
    except HarnessError as exc:
        raise HarnessError(
            f"baseline run {run_id!r}: its summary has no per-window spreads (judged before "
            f"they were stored) and its raw points cannot be read: {exc}"
        ) from None
    return measured.endpoints, measured.apis


def stored_stats(
    client: InfluxClient, run_id: str, runs_rp: str
) -> tuple[dict[str, EndpointStats], dict[str, Stats]] | None:
    """A run's per-endpoint and per-group numbers from its ``run_summary`` rows; None when it has
    none or they lack the per-window spread (stored before it existed)."""
    series = client.query(
        f'SELECT * FROM {run_data_source(runs_rp, "run_summary")} WHERE "run_id" = '
        f"{quote_string(run_id)} AND \"scope\" != 'run'"
    )
    if not series:
        return None
    rows: dict[tuple[Any, Any], dict[str, Any]] = {}
    columns = series[0]["columns"]
    for values in series[0]["values"]:
        row: dict[str, Any] = dict(zip(columns, values))
        key = (row.get("scope"), row.get("endpoint"))
        # A run judged again with another verdict has a second row per scope: a passing one wins.
        if key not in rows or row.get("verdict") == "pass":
            rows[key] = row
    if not rows or any(row.get("spreads") is None for row in rows.values()):
        return None
    endpoints: dict[str, EndpointStats] = {}
    apis: dict[Any, Stats] = {}
    for (scope, endpoint), row in rows.items():
        numbers: dict[str, Any] = {f: row.get(f) for f in _STAT_FIELDS}
        numbers.update(
            requests=int(numbers["requests"] or 0),
            failures=int(numbers["failures"] or 0),
            rps=float(numbers["rps"] or 0.0),
            spread=spread_from_fields(row),
        )
        if scope == "endpoint":
            endpoints[endpoint] = EndpointStats(key=endpoint, api=row.get("api") or "other", **numbers)
        elif scope == "api":
            apis[row.get("api")] = Stats(**numbers)
    return endpoints, apis

"""Every query of a Grafana dashboard JSON, filled in the way Grafana fills it before it reaches InfluxDB.

Grafana's InfluxQL backend replaces ``$timeFilter`` (and ``$__timeFilter``) with an absolute range,
``$__interval``/``$interval`` with a duration and ``$__interval_ms`` with its milliseconds; template
variables are replaced with the format named in the reference: ``${run_id:raw}`` as is,
``${api:regex}`` regex-escaped, ``${__from}``/``${__to}`` the range's ends in epoch
milliseconds, several values as ``(a|b)``, "All" as the variable's custom all value
or every option. A variable without a format is refused here: how Grafana escapes it then has changed
between versions (string literals broke on ``-`` or ``.``), so the dashboards always name one.

Variable queries are answered as Grafana's ``metricFindQuery`` does: the second column of each row
(the value of ``SHOW TAG VALUES``, the first selected column after ``time``), duplicates dropped;
for ``SHOW RETENTION POLICIES`` the first column (the name), the default policy first (Grafana's
``ResponseParser``). A variable keeps the value saved in the dashboard (``current``) when it is
among the options, otherwise takes the first option, as Grafana does on load.
Panels under a repeated row (or repeated themselves) are queried once per value of that variable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

ALL = "$__all"
# Grafana's escapeStringForRegex (packages/grafana-data/src/text/string.ts), used by the :regex format.
_REGEX_SPECIALS = re.compile(r"([(\[{}\])\\|*+\-.?<>#&^$])")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]")
_ROUND_INTERVALS_MS = [
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    604_800_000,
]


@dataclass(frozen=True)
class DashboardQuery:
    """One query as written in the dashboard, macros and variables still in it."""

    dashboard: str  # dashboard uid
    kind: str  # panel | annotation | variable
    title: str  # panel title, annotation name or variable name
    ref: str  # refId for panel targets, "" otherwise
    query: str
    repeat: str | None = None  # the variable a panel is repeated over
    min_interval_ms: int = 0  # the panel's own minimum interval ("interval": "2s")

    @property
    def label(self) -> str:
        ref = f" [{self.ref}]" if self.ref else ""
        return f"{self.dashboard}: {self.kind} {self.title!r}{ref}"


@dataclass
class Selection:
    """A variable's options and what is selected (Grafana's ``current``)."""

    options: list[str]
    selected: list[str]  # [ALL] for "All"
    all_value: str | None = None  # a custom all value, used as is

    @property
    def values(self) -> list[str]:
        return self.options if self.selected == [ALL] else self.selected


@dataclass(frozen=True)
class TimeRange:
    from_ms: int
    to_ms: int
    max_data_points: int = 1000
    min_interval_ms: int = 1000  # the datasource's timeInterval (1s)

    @property
    def interval_ms(self) -> int:
        raw = max((self.to_ms - self.from_ms) // self.max_data_points, self.min_interval_ms)
        return next((step for step in _ROUND_INTERVALS_MS if step >= raw), _ROUND_INTERVALS_MS[-1])

    @property
    def interval(self) -> str:
        ms = self.interval_ms
        for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
            if ms % size == 0:
                return f"{ms // size}{unit}"
        return f"{ms}ms"


@dataclass
class Context:
    """What Grafana knows when it sends a query: the time range and every variable's selection."""

    time_range: TimeRange
    variables: dict[str, Selection] = field(default_factory=dict)


def panels(dashboard: dict) -> Iterator[tuple[dict, str | None]]:
    """Every panel with the variable it repeats over: a row's repeat covers the panels after it up
    to the next row (or the panels inside it when collapsed)."""
    row_repeat: str | None = None
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            row_repeat = panel.get("repeat") or None
            yield panel, None
            for inner in panel.get("panels", []):
                yield inner, inner.get("repeat") or row_repeat
            continue
        yield panel, panel.get("repeat") or row_repeat


def queries(dashboard: dict) -> list[DashboardQuery]:
    uid = dashboard["uid"]
    found = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            found.append(DashboardQuery(uid, "variable", variable["name"], "", _text(variable.get("query"))))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        query = (annotation.get("target") or {}).get("query") or annotation.get("query")
        if query:
            found.append(DashboardQuery(uid, "annotation", annotation["name"], "", query))
    for panel, repeat in panels(dashboard):
        for target in panel.get("targets", []):
            if not target.get("hide"):
                found.append(
                    DashboardQuery(
                        uid,
                        "panel",
                        panel.get("title", ""),
                        target.get("refId", ""),
                        target.get("query", ""),
                        repeat,
                        duration_ms(panel.get("interval") or "0s"),
                    )
                )
    return found


def duration_ms(text: str) -> int:
    """Milliseconds of a Grafana duration such as ``2s`` or ``1m``."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 2s")
    size = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[match.group(2)]
    return int(match.group(1)) * size


def _text(query) -> str:
    return query.get("query", "") if isinstance(query, dict) else (query or "")


def format_value(name: str, selection: Selection, fmt: str | None) -> str:
    """A variable's value in the given format, as Grafana's template service renders it."""
    if fmt is None:
        raise ValueError(f"variable ${name} has no format: write ${{{name}:raw}} or ${{{name}:regex}}")
    if selection.selected == [ALL] and selection.all_value is not None:
        return selection.all_value  # Grafana leaves a custom all value unformatted
    values = selection.values
    if fmt == "raw":
        return ",".join(values)
    if fmt == "regex":
        escaped = [_REGEX_SPECIALS.sub(r"\\\1", v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    raise ValueError(f"variable ${name}: format {fmt!r} is not handled by this helper")


def interpolate(query: str, context: Context) -> str:
    """The query with the time macros and every variable replaced."""
    time_range = context.time_range
    text = query.replace("$__timeFilter", "$timeFilter")
    text = text.replace("$timeFilter", f"time >= {time_range.from_ms}ms and time <= {time_range.to_ms}ms")
    text = text.replace("$__interval_ms", str(time_range.interval_ms))
    text = text.replace("$__interval", time_range.interval).replace("$interval", time_range.interval)
    # Global variables, in their default format (epoch milliseconds).
    text = text.replace("${__from}", str(time_range.from_ms)).replace("${__to}", str(time_range.to_ms))

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        fmt = match.group(2) or match.group(5)
        if name not in context.variables:
            raise ValueError(f"unknown variable ${name} in {query!r}")
        return format_value(name, context.variables[name], fmt)

    return _VARIABLE.sub(replace, text)


def option_values(results: list[dict], query: str = "") -> list[str]:
    """Grafana's metricFindQuery answer: column 1 of every row (column 0 if there is only one);
    for SHOW RETENTION POLICIES column 0, the name, with the default policy (last column true) first."""
    retention_policies = "show retention policies" in query.lower()
    values: list[str] = []
    for result in results:
        for series in result.get("series", []):
            for row in series.get("values", []):
                value = row[0] if retention_policies or len(row) == 1 else row[1]
                if value is None or str(value) in values:
                    continue
                if retention_policies and row[-1] is True:
                    values.insert(0, str(value))
                else:
                    values.append(str(value))
    return values


def saved_value(variable: dict) -> str | None:
    """The single value saved in the dashboard as the variable's ``current`` (None for All or none)."""
    value = (variable.get("current") or {}).get("value")
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    return None if value in (None, ALL) else str(value)


def resolve_variables(
    dashboard: dict,
    context: Context,
    run_query: Callable[[str], list[dict]],
    choose: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Fill ``context.variables`` in dashboard order, each from its query answered by ``run_query``.

    ``choose`` selects values (as a user or a ``var-`` URL parameter would); otherwise a variable
    with "All" starts on All and any other on its first option. Returns each variable's options."""
    choose = choose or {}
    answered: dict[str, list[str]] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        if variable["type"] == "textbox":
            value = choose.get(name, [_text(variable.get("query")) or ""])
            context.variables[name] = Selection(options=value, selected=value)
            continue
        query = interpolate(_text(variable.get("query")), context)
        options = _sorted(option_values(run_query(query), query), variable.get("sort", 0))
        answered[name] = options
        include_all = variable.get("includeAll", False)
        saved = saved_value(variable)
        selected = (
            choose.get(name)
            or ([saved] if saved in options else None)
            or ([ALL] if include_all else options[:1])
        )
        context.variables[name] = Selection(
            options=options, selected=selected, all_value=variable.get("allValue") or None
        )
    return answered


def _sorted(options: list[str], sort: int) -> list[str]:
    # Grafana: 0 query order, 1/2 alphabetical asc/desc, 3/4 numerical, 5/6 case-insensitive.
    if sort in (1, 5):
        return sorted(options, key=str.lower if sort == 5 else None)
    if sort in (2, 6):
        return sorted(options, key=str.lower if sort == 6 else None, reverse=True)
    if sort in (3, 4):
        return sorted(options, key=lambda v: float(re.sub(r"[^0-9.]", "", v) or 0), reverse=sort == 4)
    return options


def expand(item: DashboardQuery, context: Context) -> list[tuple[str, str]]:
    """(repeat value, filled-in query) for every copy Grafana would show of this query."""
    if item.min_interval_ms > context.time_range.min_interval_ms:
        context = Context(
            replace(context.time_range, min_interval_ms=item.min_interval_ms), context.variables
        )
    if item.kind != "panel" or item.repeat is None:
        return [("", interpolate(item.query, context))]
    repeated = context.variables[item.repeat]
    copies = []
    for value in repeated.values:
        scoped = Context(
            context.time_range,
            {**context.variables, item.repeat: Selection(options=[value], selected=[value])},
        )
        copies.append((value, interpolate(item.query, scoped)))
    return copies


def variable_references(text: str) -> list[tuple[str, str | None]]:
    """(name, format) of every template variable reference in a query (time macros excluded)."""
    found = []
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(3) or match.group(4)
        if name.startswith("__") or name in ("timeFilter", "interval"):
            continue
        found.append((name, match.group(2) or match.group(5)))
    return found


def main(argv: list[str] | None = None) -> int:
    """Run every query of the given dashboards as Grafana would for one run, and count the answers:
    ``python -m tests.dashboard_queries --influx-url URL --influx-db DB --run-id ID dashboards/*.json``."""
    import argparse
    import time

    from harness.influx.client import InfluxClient, InfluxSettings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--influx-url", required=True)
    parser.add_argument("--influx-db", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--days", type=float, default=90, help="time range: the last N days")
    parser.add_argument("dashboards", nargs="+", type=Path)
    args = parser.parse_args(argv)
    client = InfluxClient(InfluxSettings(url=args.influx_url, database=args.influx_db))

    def run_query(query: str) -> list[dict]:
        return client.query_results(query, epoch="ms")

    now_ms = int(time.time() * 1000)
    for path in args.dashboards:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        context = Context(TimeRange(now_ms - int(args.days * 86_400_000), now_ms))
        answered = total = 0
        blank = []

        def options_query(query: str) -> list[dict]:
            try:
                return run_query(query)
            except Exception as exc:  # noqa: BLE001 - Grafana shows the error and offers no options
                print(f"{path}: variable query failed: {exc}")  # noqa: B023 - called in this iteration only
                return []

        resolve_variables(dashboard, context, options_query, {"run_id": [args.run_id]})
        for item in queries(dashboard):
            for value, query in expand(item, context) if item.kind != "variable" else [("", "")]:
                if item.kind == "variable":
                    query = (
                        interpolate(item.query, context)
                        if all(n in context.variables for n, _ in variable_references(item.query))
                        else ""
                    )
                total += 1
                try:
                    results = run_query(query) if query else []
                except Exception as exc:  # noqa: BLE001 - counted and shown, as Grafana shows it
                    results = [{"error": str(exc)}]
                if any(s.get("values") for r in results for s in r.get("series", [])):
                    answered += 1
                else:
                    blank.append(f"{item.label}{' ' + value if value else ''}")
        print(f"{path}: {answered} of {total} queries answered")
        for label in blank:
            print(f"  blank: {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

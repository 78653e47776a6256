"""``harness history --test-env ENV``: the runs where an endpoint's p95 or success rate changed
level, found in the stored run summaries (``run_summary``), printed and stored as annotations of
the history dashboard.

A change counts when it reaches the practical minimum effect of baselines.yaml (the same one
``--baseline`` comparisons use). Exit codes: 0 analysed (with or without changes), 2 error (unknown
test env, too few runs, InfluxDB unreachable)."""

from __future__ import annotations

from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.history.changepoints import MIN_SEGMENT, level_shifts, refused
from harness.history.runs import ChangePoint, load_series, store_change_points, test_envs
from harness.influx.options import client_from, settings_from
from harness.settings import HISTORY, add_arguments
from harness.verdict import load_thresholds

DEFAULT_LAST = 100


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "history",
        help="find runs where an endpoint's p95 or success rate changed level (exit 0/2)",
        description=__doc__,
    )
    parser.add_argument(
        "--last",
        type=int,
        default=DEFAULT_LAST,
        metavar="N",
        help=f"analyse the newest N judged runs of the test env (default {DEFAULT_LAST})",
    )
    parser.add_argument(
        "--no-store", action="store_true", help="print only; do not store the change points as annotations"
    )
    add_arguments(parser, HISTORY)
    parser.set_defaults(func=run)


def min_effect(thresholds, statistic: str):
    """The smallest change of level worth reporting, from the regression limit of baselines.yaml."""
    from harness.verdict import regression_limit

    def effect(before: float) -> float:
        limit = regression_limit(thresholds, statistic, before)
        return abs(limit - before) if limit is not None else 0.0

    return effect


def find_change_points(series: dict, thresholds) -> list[ChangePoint]:
    found = []
    for (endpoint, statistic), values in sorted(series.items()):
        for shift in level_shifts([v.value for v in values], min_effect(thresholds, statistic)):
            found.append(
                ChangePoint(endpoint, statistic, shift, values[shift.index], values[shift.index - 1])
            )
    return sorted(found, key=lambda p: (p.first.time_ns, p.label))


def run(args) -> int:
    if args.last < 2 * MIN_SEGMENT:
        raise HarnessError(f"--last {args.last}: a change of level needs at least {2 * MIN_SEGMENT} runs")
    settings = settings_from(args)
    thresholds = load_thresholds(settings.thresholds_file)
    client = client_from(settings)
    client.ping()
    runs_rp, env = settings.influx_runs_rp, settings.test_env
    runs, series = load_series(client, runs_rp, env, args.last)
    if not runs:
        known = test_envs(client, runs_rp)
        raise HarnessError(
            f"no judged run of test env {env!r} is stored"
            + (f" (test envs with runs: {', '.join(known)})" if known else " (no judged run at all)")
        )
    if len(runs) < 2 * MIN_SEGMENT:
        raise HarnessError(
            f"test env {env!r} has {len(runs)} judged runs; a change of level needs at least "
            f"{2 * MIN_SEGMENT} ({MIN_SEGMENT} on each side)"
        )
    points = find_change_points(series, thresholds)
    print(
        f"history of test env {env!r}: {len(runs)} judged runs, {runs[0]} … {runs[-1]}; "
        f"{len(series)} endpoint series (p95, success rate)"
    )
    for (endpoint, statistic), values in sorted(series.items()):
        if left_out := refused([v.value for v in values]):
            print(f"  note: {endpoint} {statistic}: {left_out} runs without a finite value, left out")
    for point in points:
        print(f"  change: {point.describe()}")
    if not points:
        print("  no change of level beyond the minimum effect of baselines.yaml")
    if points and not args.no_store:
        store_change_points(client, runs_rp, env, points)
        print(f"  stored {len(points)} change point(s) as annotations (events, type change_point)")
    return ExitCode.PASS

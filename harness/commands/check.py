"""``harness check --run-id ID``: the verdict of a stored run, from its raw points in InfluxDB."""

from __future__ import annotations

from pathlib import Path

from harness.commands.common import generation_target, print_verdict, required_run_id
from harness.influx.options import client_from, settings_from
from harness.rundata import record_plain_run, store_verdict
from harness.settings import CHECK, add_arguments
from harness.verdict import SOURCES, judge, load_thresholds


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="judge a stored run against the thresholds (exit 0/1/2)", description=__doc__
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="RUN_ID|last-pass|last-N-pass",
        help="also compare with this run, the last passing run or the median of the last N passing "
        "runs of the same test env and load (docs/baselines.md)",
    )
    parser.add_argument(
        "--baseline-force",
        action="store_true",
        help="compare with the baseline even when its load (users, rates, run time, processes) differs",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for verdict.json, junit.xml, summary.md (default OUT_DIR/RUN_ID)",
    )
    parser.add_argument(
        "--no-store", action="store_true", help="do not write run_summary and the verdict event"
    )
    parser.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default=None,
        help="judge from the request points or the sketches (a run that recorded both has both; "
        "default: the request points when the run has them)",
    )
    add_arguments(parser, CHECK)
    parser.set_defaults(func=run)


def run(args) -> int:
    settings = settings_from(args)
    run_id = required_run_id(settings)
    thresholds = load_thresholds(settings.thresholds_file)
    client = client_from(settings)
    client.ping()
    target = generation_target(settings, thresholds)
    verdict, paths = judge(
        client,
        run_id,
        thresholds,
        args.out or settings.out_dir / run_id,
        generation_target=target,
        baseline=args.baseline,
        baseline_force=args.baseline_force,
        runs_rp=settings.influx_runs_rp,
        source=args.source,
    )
    if not args.no_store:
        store_verdict(client, settings.influx_runs_rp, verdict)
        record_plain_run(
            client,
            settings.influx_runs_rp,
            verdict,
            thresholds,
            target,
            "started outside harness run; recorded by harness check",
        )
    print_verdict(verdict, paths)
    return verdict.exit_code

"""``harness report --run-id ID``: report.html, report.json, endpoints.csv and series.csv for a
stored run, read again from InfluxDB (the verdict files are written again beside them).

Exit codes as ``harness check``: 0 pass, 1 fail, 2 error or inconclusive."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.commands.common import generation_target, print_verdict, required_run_id
from harness.errors import HarnessError
from harness.influx.options import client_from, settings_from
from harness.report import write_report
from harness.report.parameters import read_parameters
from harness.settings import REPORT, add_arguments
from harness.verdict import RETIRED_REGRESSION_KEYS, Thresholds, judge, load_thresholds, parse_thresholds


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write the HTML/JSON/CSV report of a stored run", description=__doc__
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default OUT_DIR/RUN_ID)")
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="RUN_ID|last-pass|last-N-pass",
        help="also compare with this run, as harness check does",
    )
    parser.add_argument(
        "--baseline-force",
        action="store_true",
        help="compare with the baseline even when its load differs, as harness check does",
    )
    parser.add_argument(
        "--stored-thresholds",
        action="store_true",
        help="judge with the limits stored with the run (as it was judged then) "
        "instead of the thresholds file",
    )
    add_arguments(parser, REPORT)
    parser.set_defaults(func=run)


def stored_thresholds(client, run_id: str, runs_rp: str) -> Thresholds:
    """The limits ``harness run`` stored in the run's ``run`` point."""
    params = read_parameters(client, run_id, runs_rp) or {}
    data = params.get("thresholds")
    if not isinstance(data, dict):
        raise HarnessError(
            f"--stored-thresholds: run {run_id!r} has no stored thresholds "
            f"(it was not started by harness run); use --thresholds-file"
        )
    data = {k: v for k, v in data.items() if k != "source"}
    if isinstance(data.get("regression"), dict):
        # A run judged before the statistical comparison stored the old rule's keys; the
        # comparison they configured no longer exists, so the defaults apply.
        data["regression"] = {k: v for k, v in data["regression"].items() if k not in RETIRED_REGRESSION_KEYS}
    return parse_thresholds(data, source=f"thresholds stored with run {run_id}")


def run(args) -> int:
    settings = settings_from(args)
    run_id = required_run_id(settings)
    client = client_from(settings)
    client.ping()
    if args.stored_thresholds:
        thresholds = stored_thresholds(client, run_id, settings.influx_runs_rp)
    else:
        thresholds = load_thresholds(settings.thresholds_file)
    out_dir = args.out or settings.out_dir / run_id
    verdict, paths = judge(
        client,
        run_id,
        thresholds,
        out_dir,
        generation_target=generation_target(settings, thresholds),
        baseline=args.baseline,
        baseline_force=args.baseline_force,
        runs_rp=settings.influx_runs_rp,
    )
    paths.update(write_report(client, verdict, thresholds, out_dir, runs_rp=settings.influx_runs_rp))
    print_verdict(verdict, paths, sys.stdout)  # the stream of now, not of import time
    return verdict.exit_code

"""``harness check --run-id ID``: the verdict of a stored run, from its raw points in InfluxDB."""

from __future__ import annotations

from pathlib import Path

from harness import __version__
from harness.commands.common import generation_target, print_verdict, required_run_id
from harness.influx.client import quote_string
from harness.influx.datamodel import RUN, run_data_source
from harness.influx.options import client_from, settings_from
from harness.rundata import RunRecord, store_verdict, threshold_rows, thresholds_json
from harness.settings import CHECK, add_arguments
from harness.verdict import SOURCES, judge, load_thresholds


def register(subparsers) -> None:
    parser = subparsers.add_parser("check", help="judge a stored run against the thresholds (exit 0/1/2)",
                                   description=__doc__)
    parser.add_argument("--baseline", default=None, metavar="RUN_ID|last-pass|last-N-pass",
                        help="also compare with this run, the last passing run or the median of the last N passing "
                             "runs of the same test env and load (docs/baselines.md)")
    parser.add_argument("--baseline-force", action="store_true",
                        help="compare with the baseline even when its load (users, rates, run time, processes) differs")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for verdict.json, junit.xml, summary.md (default OUT_DIR/RUN_ID)")
    parser.add_argument("--no-store", action="store_true", help="do not write run_summary and the verdict event")
    parser.add_argument("--from", dest="source", choices=SOURCES, default=None,
                        help="judge from the request points or the sketches (a run that recorded both has both; "
                             "default: the request points when the run has them)")
    add_arguments(parser, CHECK)
    parser.set_defaults(func=run)


def record_plain_run(client, runs_rp: str, verdict, thresholds, target) -> None:
    """A run started with plain ``locust`` has no ``run`` or ``threshold`` points; write them from
    this check, so its dashboards draw limit lines and the history table lists it. Runs made by
    ``harness run`` already have both and are left as they are."""
    m = verdict.measurements
    source = run_data_source(runs_rp, RUN)
    if client.query(f'SELECT last("status") FROM {source} WHERE "run_id" = {quote_string(m.run_id)}'):
        return
    start_ns = int(m.start.timestamp() * 1e9) - int(m.warmup_s * 1e9)
    end_ns = int(m.end.timestamp() * 1e9)
    record = RunRecord(client, runs_rp, m.run_id, m.test_env)
    record.write_run({"status": "checked", "version": __version__, "thresholds": thresholds_json(thresholds),
                      "warmup_s": float(thresholds.warmup_s), "verdict": verdict.verdict,
                      "description": "started outside harness run; recorded by harness check"}, start_ns)
    endpoint_apis = {key: stats.api for key, stats in m.endpoints.items()}
    record.write_thresholds(threshold_rows(thresholds, endpoint_apis, target), [start_ns, end_ns])


def run(args) -> int:
    settings = settings_from(args)
    run_id = required_run_id(settings)
    thresholds = load_thresholds(settings.thresholds_file)
    client = client_from(settings)
    client.ping()
    target = generation_target(settings, thresholds)
    verdict, paths = judge(client, run_id, thresholds, args.out or settings.out_dir / run_id,
                           generation_target=target, baseline=args.baseline, baseline_force=args.baseline_force,
                           runs_rp=settings.influx_runs_rp, source=args.source)
    if not args.no_store:
        store_verdict(client, settings.influx_runs_rp, verdict)
        record_plain_run(client, settings.influx_runs_rp, verdict, thresholds, target)
    print_verdict(verdict, paths)
    return verdict.exit_code

"""Calibration of the baseline comparison on the sandbox: A/A false positives, A/B detection rates.

    python bench/bench_baseline.py --aa 4 --slow-aa 2 --reps 1 --seconds 15 --users 40

(a short pass for ``run_all.py``; the measured numbers in bench/README.md come from the longer
command given there). One invocation starts a private influxd and records real runs with
``harness run`` against the built-in sandbox, one after another (never two at once):

- ``--aa`` healthy runs (A) and, interleaved with them, ``--reps`` runs per effect with the
  payments API slower by a fixed latency (B): +1 ms (about 30 % of its p95 on this machine),
  +3 ms, and +15 ms (the issue's 3 → 20 ms case, ``--fault payments:latency_ms=15``);
- ``--slow-aa`` runs whose ``POST /api/v1/payments`` has a base latency of 20 ms (A'), and
  ``--reps`` runs per effect where it gets 10 %, 20 % and 30 % of the A' runs' p95 more (B').

Every run is judged and stored as ``harness run`` does (its ``run_summary`` holds the per-window
spreads); then every pair is compared in-process exactly as ``--baseline RUN_ID`` compares it:

- A/A: each run against the previous run of its kind (adjacent pairs), and every pair of runs of
  a kind; a pair is a false positive when any statistic of any scope is REGRESSED (the run would
  fail);
- A/B: each B run against the A run before it; detected when a payments endpoint is REGRESSED;
  a false alarm when anything outside payments is.

The comparisons are made twice: with the repository's ``baselines.yaml`` (minimum effect 10 %
and 2 ms) and with a stricter minimum effect of 0.5 ms, to show what a smaller minimum costs in
false positives and buys in detection. ``--save FILE`` keeps every run's numbers (JSON), and
``--load FILE`` compares them again without recording.

Loopback only; each run is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.local import LocalInfluxd
from harness.verdict.decide.compare import compare
from harness.verdict.model import Baseline, BaselineInfo, EndpointStats, Measurements, Spread, Stats
from harness.verdict.reads.baseline import stored_stats
from harness.verdict.rules.thresholds import load_thresholds, parse_thresholds

BENCH = Path(__file__).resolve().parent
DATABASE = "calibration"
PAYMENTS = {"POST /api/v1/payments", "GET /api/v1/payments", "api:payments"}
FAST_EFFECTS_MS = (1.0, 3.0, 15.0)
SLOW_BASE_MS = 20.0
SLOW_SHARES = (0.1, 0.2, 0.3)
# Absolute limits no sandbox run here can breach and no throughput target: only the comparison
# is being measured, and every run must be stored.
LOOSE = {
    "generation": {"target_per_s": 0},
    "apis": {
        "auth": {"max_p95_ms": 5000, "min_success_rate": 0},
        "generation": {"max_p95_ms": 5000},
        "payments": {"max_p95_ms": 5000},
    },
}


def record(url: str, out: Path, run_id: str, faults: list[str], args) -> dict:
    """One ``harness run``; returns its verdict.json with the load average before it."""
    load = os.getloadavg()[0]
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--run-id",
        run_id,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.users),
        "--run-time",
        f"{args.seconds}s",
        "--influx-url",
        url,
        "--influx-db",
        DATABASE,
        "--out",
        str(out / run_id),
        "--thresholds-file",
        str(out / "loose.yaml"),
    ]
    for fault in faults:
        command += ["--fault", fault]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUX_", "TARGET_HOST", "THRESHOLDS_"))}
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=args.seconds + 120, env=env, cwd=out
    )
    verdict_file = out / run_id / "verdict.json"
    if not verdict_file.exists():
        raise SystemExit(
            f"run {run_id} left no verdict (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
        )
    doc = json.loads(verdict_file.read_text())
    doc["load_before"] = load
    print(
        f"  {run_id}: {' '.join(faults) or 'healthy'}: exit {proc.returncode}, POST /api/v1/payments p95 "
        f"{doc['endpoints']['POST /api/v1/payments']['p95']:.2f} ms, load {load:.2f}",
        flush=True,
    )
    return doc


def as_measurements(run_id: str, stats) -> Measurements:
    endpoints, apis = stats
    moment = datetime.now(timezone.utc)
    return Measurements(
        run_id=run_id,
        test_env="local",
        start=moment,
        end=moment,
        duration_s=1.0,
        warmup_s=0.0,
        endpoints=endpoints,
        apis=apis,
    )


def decide(thresholds, stats: dict, run_id: str, base_id: str) -> list:
    baseline = Baseline(BaselineInfo(base_id, (base_id,)), *stats[base_id])
    return compare(thresholds, as_measurements(run_id, stats[run_id]), baseline)


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"


def upper_bound(flagged: int, pairs: int) -> float:
    """One-sided 95 % upper bound of a share (Clopper–Pearson, from scipy's beta quantile)."""
    from scipy.stats import beta

    return 1.0 if flagged >= pairs else float(beta.ppf(0.95, flagged + 1, pairs - flagged))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa", type=int, default=40, help="healthy runs (A)")
    parser.add_argument(
        "--slow-aa", type=int, default=15, help="runs with a 20 ms payments base latency (A')"
    )
    parser.add_argument("--reps", type=int, default=5, help="runs per effect size")
    parser.add_argument("--seconds", type=int, default=15, help="length of each run (10–30)")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--save", type=Path, help="write every run's numbers here (JSON)")
    parser.add_argument("--load", type=Path, help="compare the runs of a --save file again; record nothing")
    args = parser.parse_args(argv)
    if not 10 <= args.seconds <= 30 or args.aa < 2 or args.users > 100:
        parser.error("--seconds must be 10..30, --aa at least 2, --users at most 100")
    thresholds = load_thresholds(BENCH.parent / "baselines.yaml")
    started = time.time()
    if args.load:
        saved = json.loads(args.load.read_text())
        return report(
            thresholds,
            saved["kinds"],
            saved["docs"],
            {r: _stats_from(s) for r, s in saved["stats"].items()},
            saved["args"],
            started,
        )

    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        out = Path(tmp)
        (out / "loose.yaml").write_text(json.dumps(LOOSE))
        parse_thresholds(LOOSE)
        influxd = LocalInfluxd(out / "influxd", port=0)
        url = influxd.start()
        docs: dict[str, dict] = {}
        kinds: dict[str, str] = {}  # run id -> "A", "A'", "B+1.5ms", "B'+10%"
        try:
            fast_b = [(f"B+{e:g}ms", [f"payments:latency_ms={e:g}"]) for e in FAST_EFFECTS_MS] * args.reps
            print(f"A and B runs: {args.aa} healthy, {len(fast_b)} with slower payments", flush=True)
            order: list[tuple[tuple[str, list[str]] | None, ...]] = list(
                itertools.zip_longest([("A", [])] * args.aa, fast_b)
            )
            for i, (a, b) in enumerate(order):
                for item in (a, b):
                    if item is not None:
                        run_id = f"{item[0].replace('+', 'p')}-{i:03d}"
                        docs[run_id], kinds[run_id] = record(url, out, run_id, item[1], args), item[0]
            slow = f"POST /api/v1/payments:latency_ms={SLOW_BASE_MS:g}"
            print(f"A' and B' runs: {args.slow_aa} with {slow}, then B' effects", flush=True)
            first = None
            for i in range(args.slow_aa):
                run_id = f"Aslow-{i:03d}"
                docs[run_id], kinds[run_id] = record(url, out, run_id, [slow], args), "A'"
                first = first or docs[run_id]["endpoints"]["POST /api/v1/payments"]["p95"]
                if i < args.reps * len(SLOW_SHARES):
                    share_of_p95 = SLOW_SHARES[i % len(SLOW_SHARES)]
                    extra = share_of_p95 * first
                    fault = f"POST /api/v1/payments:latency_ms={SLOW_BASE_MS + extra:.1f}"
                    run_id = f"Bslow{int(share_of_p95 * 100)}-{i:03d}"
                    docs[run_id], kinds[run_id] = (
                        record(url, out, run_id, [fault], args),
                        f"B'+{share_of_p95:.0%} of p95 (+{extra:.1f} ms)",
                    )
            client = InfluxClient(InfluxSettings(url=url, database=DATABASE, timeout_s=60))
            stats = {run_id: stored_stats(client, run_id, "runs") for run_id in docs}
            missing = [r for r, s in stats.items() if s is None]
            if missing:
                raise SystemExit(f"runs stored without spreads: {missing}")
        finally:
            influxd.stop()

    kept = {
        "kinds": kinds,
        "args": vars(args) | {"save": None, "load": None},
        "docs": {r: {"load_before": d["load_before"], "endpoints": d["endpoints"]} for r, d in docs.items()},
        "stats": {r: _stats_to(s) for r, s in stats.items()},
    }
    if args.save:
        args.save.write_text(json.dumps(kept))
    return report(thresholds, kinds, kept["docs"], stats, kept["args"], started)


def report(thresholds, kinds: dict, docs: dict, stats: dict, args: dict, started: float) -> int:
    ids = list(docs)  # in the order they ran
    print()
    print(
        f"{len(ids)} runs of {args['seconds']} s, {args['users']} users, in {(time.time() - started) / 60:.1f} min; "
        f"load average before a run: median {statistics.median(d['load_before'] for d in docs.values()):.2f}, "
        f"max {max(d['load_before'] for d in docs.values()):.2f}"
    )
    strict = replace(thresholds, regression=replace(thresholds.regression, min_effect_ms=0.5))
    for label, variant in (
        ("baselines.yaml: minimum effect 10 % and 2 ms", thresholds),
        ("stricter: minimum effect 10 % and 0.5 ms", strict),
    ):
        print(f"\n### {label}")
        report_aa(variant, stats, ids, kinds)
        report_ab(variant, stats, ids, kinds, docs)
    return 0


def _stats_to(pair) -> dict:
    def one(s: Stats) -> dict:
        out = {
            f: getattr(s, f)
            for f in ("requests", "failures", "success_rate", "p50", "p95", "p99", "max", "rps")
        }
        out["spread"] = {k: [v.se, v.windows] for k, v in s.spread.items()}
        if isinstance(s, EndpointStats):
            out.update(key=s.key, api=s.api)
        return out

    endpoints, apis = pair
    return {
        "endpoints": {k: one(v) for k, v in endpoints.items()},
        "apis": {k: one(v) for k, v in apis.items()},
    }


def _stats_from(saved: dict):
    def one(d: dict, cls):
        d = dict(d, spread={k: Spread(*v) for k, v in d["spread"].items()})
        return cls(**d)

    return (
        {k: one(v, EndpointStats) for k, v in saved["endpoints"].items()},
        {k: one(v, Stats) for k, v in saved["apis"].items()},
    )


def report_aa(thresholds, stats, ids, kinds) -> None:
    print()
    print(
        "| A/A | pairs | false positives (any REGRESSED) | 95 % upper bound | statistics compared | inconclusive | no change |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in ("A", "A'"):
        runs = [r for r in ids if kinds[r] == kind]
        for label, pairs in (
            ("adjacent", list(zip(runs[1:], runs[:-1]))),
            ("every pair", list(itertools.combinations(runs, 2))),
        ):
            found = [decide(thresholds, stats, now, base) for now, base in pairs]
            flagged = sum(any(c.decision == "regressed" for c in cs) for cs in found)
            every = [c for cs in found for c in cs]
            print(
                f"| {kind} {label} | {len(pairs)} | {share(flagged, len(pairs))} | "
                f"{100 * upper_bound(flagged, len(pairs)):.1f} % | {len(every)} | "
                f"{share(sum(c.decision == 'inconclusive' for c in every), len(every))} | "
                f"{share(sum(c.decision == 'no change' for c in every), len(every))} |"
            )
            regressed = [f"{c.scope} {c.statistic}" for cs in found for c in cs if c.decision == "regressed"]
            if regressed:
                print(f"|  | | REGRESSED: {', '.join(sorted(set(regressed)))} | | | | |")


def report_ab(thresholds, stats, ids, kinds, docs) -> None:
    print()
    print(
        "| A/B | pairs | payments p95 A → B (median ms) | detected (a payments endpoint REGRESSED) | "
        "POST payments REGRESSED | false alarms elsewhere | decided by |"
    )
    print("|---|---:|---|---:|---:|---:|---|")
    for kind in dict.fromkeys(k for k in kinds.values() if k.startswith("B")):
        pairs = []
        for i, run_id in enumerate(ids):
            if kinds[run_id] == kind:
                base_kind = "A'" if kind.startswith("B'") else "A"
                base = next(r for r in reversed(ids[:i]) if kinds[r] == base_kind)
                pairs.append((run_id, base))
        found = [decide(thresholds, stats, now, base) for now, base in pairs]
        detected = sum(any(c.decision == "regressed" and c.scope in PAYMENTS for c in cs) for cs in found)
        post = sum(
            any(c.decision == "regressed" and c.scope == "POST /api/v1/payments" for c in cs) for cs in found
        )
        elsewhere = sum(
            any(c.decision == "regressed" and c.scope not in PAYMENTS for c in cs) for cs in found
        )
        by = sorted(
            {c.statistic for cs in found for c in cs if c.decision == "regressed" and c.scope in PAYMENTS}
        )
        p95 = lambda run_id: docs[run_id]["endpoints"]["POST /api/v1/payments"]["p95"]  # noqa: E731
        print(
            f"| {kind} | {len(pairs)} | {statistics.median(p95(b) for _, b in pairs):.2f} → "
            f"{statistics.median(p95(n) for n, _ in pairs):.2f} | {share(detected, len(pairs))} | "
            f"{share(post, len(pairs))} | {share(elsewhere, len(pairs))} | {', '.join(by) or '—'} |"
        )


if __name__ == "__main__":
    sys.exit(main())

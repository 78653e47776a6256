"""Run-to-run variation of healthy runs, from the runs ``bench_baseline.py --save FILE`` recorded:
the default of ``regression.run_to_run_percent``.

    python bench/bench_baseline.py --aa 8 --slow-aa 8 --reps 0 --seconds 15 --users 20 --save runs.json
    python bench/run_to_run.py runs.json

Per kind of run (A: the sandbox as it is; A': ``POST /api/v1/payments`` with 20 ms of injected latency),
scope and statistic: the spread s of the runs' values, their own within-run error (root mean square of
their per-window standard errors), and the run-to-run part left when the within-run part is taken out,
tau = sqrt(max(0, s² − mean se²)), as a percent of the mean value (of the failure rate for the success
rate). Only scopes where every run has a within-run error count.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

STATISTICS = ("p50", "p95", "p99", "success_rate")


def tau_percent(values: list[float], errors: list[float], statistic: str) -> tuple[float, float, float]:
    """(tau, s, within-run se) in percent of the mean (of the mean failure rate for the success rate)."""
    mean = statistics.fmean(values)
    scale = 100.0 - mean if statistic == "success_rate" else mean
    s2 = statistics.variance(values)
    within2 = statistics.fmean(e * e for e in errors)
    if scale <= 0:
        return math.nan, math.nan, math.nan
    return (
        100 * math.sqrt(max(0.0, s2 - within2)) / scale,
        100 * math.sqrt(s2) / scale,
        100 * math.sqrt(within2) / scale,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("saved", type=Path, help="a bench_baseline.py --save file")
    args = parser.parse_args(argv)
    saved = json.loads(args.saved.read_text())
    kinds, stats = saved["kinds"], saved["stats"]
    loads = [d["load_before"] for d in saved["docs"].values()]
    print(
        f"{len(kinds)} runs of {saved['args']['seconds']} s, {saved['args']['users']} users; load average before "
        f"a run: median {statistics.median(loads):.2f}, max {max(loads):.2f}\n"
    )
    print(
        "| runs | scope | statistic | runs' mean | s between runs | within-run se (rms) | tau (run-to-run) |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    summary: dict[tuple[str, str], list[float]] = {}
    for kind in dict.fromkeys(kinds.values()):
        ids = [r for r, k in kinds.items() if k == kind]
        scopes = sorted(set.intersection(*(set(stats[r]["endpoints"]) for r in ids)))
        groups = sorted(set.intersection(*(set(stats[r]["apis"]) for r in ids)))
        for scope, part, key in [(s, "endpoints", s) for s in scopes] + [
            (f"api:{g}", "apis", g) for g in groups
        ]:
            for statistic in STATISTICS:
                rows = [stats[r][part][key] for r in ids]
                if not all(statistic in row["spread"] and row[statistic] is not None for row in rows):
                    continue
                values = [row[statistic] for row in rows]
                errors = [row["spread"][statistic][0] for row in rows]
                tau, s, within = tau_percent(values, errors, statistic)
                if math.isnan(tau):
                    continue
                summary.setdefault((kind, statistic), []).append(tau)
                print(
                    f"| {kind} | {scope} | {statistic} | {statistics.fmean(values):.3f} | {s:.1f} % | "
                    f"{within:.1f} % | {tau:.1f} % |"
                )
    print("\n| runs | statistic | scopes | tau: median | 75th percentile | max |")
    print("|---|---|---:|---:|---:|---:|")
    for (kind, statistic), taus in summary.items():
        ordered = sorted(taus)
        q75 = ordered[min(len(ordered) - 1, int(math.ceil(0.75 * len(ordered))) - 1)]
        print(
            f"| {kind} | {statistic} | {len(taus)} | {statistics.median(taus):.1f} % | {q75:.1f} % | "
            f"{max(taus):.1f} % |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

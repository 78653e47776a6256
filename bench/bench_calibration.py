"""Every decision that can fail a build or stop a run, calibrated with the project's own decision
functions (no InfluxDB, no Locust): false-positive rates under null scenarios and power under named
effects, each with its repetitions and a 95 % (Wilson) interval, in one table.

    python bench/bench_calibration.py [--quick] [--seed 1] [--only abort regression] [--markdown FILE]

``--quick`` (at most about 60 s) is what the test suite runs. Exit code 1 when any false-positive
rate's 95 % interval lies wholly above its nominal level (the decision is miscalibrated), else 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.calibration import MODULES
from bench.calibration.table import markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and shorter runs (test suite)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=MODULES, default=list(MODULES))
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    rows = []
    for name in args.only:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.calibration.{name}")
        rows.extend(module.rows(quick=args.quick, seed=args.seed))
        print(f"{name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    table = markdown(rows)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    bad = [r for r in rows if r.exceeds_nominal]
    for r in bad:
        print(
            f"miscalibrated: {r.decision} — {r.scenario}: {r.hits}/{r.reps} false positives, "
            f"95 % interval from {100 * r.interval[0]:.1f} % above the nominal {100 * r.nominal:.1f} %",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""Change-point detectors on synthetic run histories with known level shifts: precision, recall,
false alarms and time. Picks the library behind ``harness history`` (docs/decisions.md).

A history is one value per run (an endpoint's p95 in ms), ``--runs`` long, with 0, 1 or 2 level
shifts of a given relative size at random places (segments of at least 6 runs), multiplicative
noise (coefficient of variation ``--cv``) and, with probability 5 %, an outlier run 1.5-3x slower:
a shared CI runner's history looks like that. A detected change point counts as found when it lies
within 2 runs of a true one; each true one can be found once.

The three libraries cannot share one environment (apache-otava pins numpy 2.2.0,
signal-processing-algorithms needs numpy < 2 and pins gevent), so each runs in its own
virtualenv; detectors that are not installed are skipped:

    python bench/bench_changepoints.py --detector ruptures-l1 --detector ruptures-l1+min10% --detector ruptures-l2
    /tmp/otava-venv/bin/python bench/bench_changepoints.py --detector otava
    /tmp/spa-venv/bin/python bench/bench_changepoints.py --detector e-divisive
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOLERANCE = 2  # runs
SHIFTS = (0.10, 0.25, 0.50, 1.00)  # relative level change


def history(
    rng: np.random.Generator, runs: int, shifts: int, size: float, cv: float
) -> tuple[np.ndarray, list[int]]:
    """A run history and the indices where its level changes (first run of the new level)."""
    while True:
        points = sorted(rng.choice(np.arange(6, runs - 5), size=shifts, replace=False)) if shifts else []
        if all(b - a >= 6 for a, b in zip([0, *points], [*points, runs])):
            break
    level = np.full(runs, 5.0)
    for point in points:
        level[point:] *= (1 + size) if rng.random() < 0.5 else 1 / (1 + size)
    noise = rng.lognormal(-cv * cv / 2, cv, runs)
    outliers = np.where(rng.random(runs) < 0.05, rng.uniform(1.5, 3.0, runs), 1.0)
    return level * noise * outliers, [int(p) for p in points]


# -- detectors: series -> indices of the first run of each new level ----------------------------------


def harness_history(series: np.ndarray) -> list[int]:
    """What ``harness history`` runs (PELT, L1 cost), without its minimum-effect merge."""
    from harness.history.changepoints import detect

    return detect(series)


def harness_history_min10(series: np.ndarray) -> list[int]:
    """The same with the merge of changes under 10 % (the default minimum effect for latencies)."""
    from harness.history.changepoints import level_shifts

    return [shift.index for shift in level_shifts(series, lambda before: 0.10 * abs(before))]


def ruptures_l2(series: np.ndarray) -> list[int]:
    import ruptures

    return _ruptures(ruptures, series, "l2", lambda sigma, n: 3 * sigma * sigma * math.log(n))


def _ruptures(ruptures, series, model, penalty) -> list[int]:
    # The same noise estimate and penalty form as harness history, with the L2 (mean) cost.
    from harness.history.changepoints import MIN_SEGMENT, noise

    sigma = noise(series) or 1e-9
    ends = (
        ruptures.Pelt(model=model, min_size=MIN_SEGMENT, jump=1)
        .fit(series)
        .predict(pen=penalty(sigma, len(series)))
    )
    return [int(e) for e in ends[:-1]]


def otava(series: np.ndarray) -> list[int]:
    from otava.analysis import compute_change_points

    points, _ = compute_change_points(list(map(float, series)), window_len=30, max_pvalue=0.001)
    return [int(p.index) for p in points]


def e_divisive(series: np.ndarray) -> list[int]:
    from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive as detect

    return sorted(int(p) for p in detect(series, pvalue=0.01, permutations=100))


DETECTORS = {
    "ruptures-l1": harness_history,
    "ruptures-l1+min10%": harness_history_min10,
    "ruptures-l2": ruptures_l2,
    "otava": otava,
    "e-divisive": e_divisive,
}


@dataclass
class Score:
    true: int = 0
    found: int = 0
    reported: int = 0
    correct: int = 0
    alarms: int = 0  # histories without a shift in which something was reported
    quiet: int = 0  # histories without a shift
    seconds: list[float] = field(default_factory=list)

    def add(self, truth: list[int], reported: list[int], seconds: float) -> None:
        self.seconds.append(seconds)
        self.true += len(truth)
        self.reported += len(reported)
        left = list(truth)
        for point in reported:
            match = next((t for t in left if abs(t - point) <= TOLERANCE), None)
            if match is not None:
                left.remove(match)
                self.correct += 1
        self.found += len(truth) - len(left)
        if not truth:
            self.quiet += 1
            self.alarms += bool(reported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detector", action="append", choices=sorted(DETECTORS))
    parser.add_argument("--runs", type=int, default=40, help="runs per history")
    parser.add_argument("--repeat", type=int, default=100, help="histories per shift size and shift count")
    parser.add_argument(
        "--cv", type=float, action="append", help="noise, coefficient of variation (0.05, 0.15)"
    )
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    names = args.detector or sorted(DETECTORS)
    print(f"{args.repeat} histories of {args.runs} runs per cell; found = within {TOLERANCE} runs")
    print("| detector | noise cv | shift | recall | precision | false alarm (no shift) | ms per history |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        detect = DETECTORS[name]
        try:
            detect(np.linspace(1, 2, 20))
        except ImportError as exc:
            print(f"| {name} | not installed here ({exc.name}) | | | | | |")
            continue
        for cv in args.cv or [0.05, 0.15]:
            rng = np.random.default_rng(args.seed)  # the same histories for every detector
            np.random.seed(args.seed)  # e-divisive's permutations use numpy's global generator
            quiet = Score()
            for _ in range(args.repeat):
                series, truth = history(rng, args.runs, 0, 0.0, cv)
                t0 = time.perf_counter()
                quiet.add(truth, detect(series), time.perf_counter() - t0)
            for size in SHIFTS:
                score = Score()
                for shifts in (1, 2):
                    for _ in range(args.repeat):
                        series, truth = history(rng, args.runs, shifts, size, cv)
                        t0 = time.perf_counter()
                        score.add(truth, detect(series), time.perf_counter() - t0)
                precision = score.correct / score.reported if score.reported else float("nan")
                ms = 1000 * float(np.mean(score.seconds + quiet.seconds))
                print(
                    f"| {name} | {cv:g} | +{size:.0%} | {score.found / score.true:.2f} | {precision:.2f} | "
                    f"{quiet.alarms / quiet.quiet:.2f} | {ms:.1f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

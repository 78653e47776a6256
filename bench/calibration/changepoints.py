"""Change points (``harness history``) calibrated with its own decision: ``level_shifts`` with the
minimum effect ``harness history`` gives it (``harness.commands.history.min_effect`` over the
built-in baselines.yaml).

Histories of 60 runs, one value per run:
- success rate at 100 % with 1–5 one-run dips of 0.5–5 percentage points at random runs (a run
  with a few failed requests): no level changed, so any shift reported is a false positive;
- an endpoint's p95 around 50 ms with multiplicative run-to-run noise (coefficient of variation
  5 % or 10 %) and, with probability 5 %, an outlier run 1.5–3× slower (bench/bench_changepoints.py):
  without a shift (false positives), and with the last 10 runs +25 % (power: found when a shift
  is reported within 2 runs of the true one).
Nominal false-positive level: 5 % of histories (issue 16: no level shift in ≥ 95 %).
"""

from __future__ import annotations

import numpy as np

from bench.calibration.table import Row
from harness.commands.history import min_effect
from harness.history.changepoints import level_shifts
from harness.verdict.rules.thresholds import Thresholds

RUNS = 60
HOLD = 10  # runs the +25 % shift holds (the newest)
TOLERANCE = 2  # runs, as bench/bench_changepoints.py
NOMINAL = 0.05
P95_MS = 50.0


def _dips(rng: np.random.Generator) -> np.ndarray:
    values = np.full(RUNS, 100.0)
    k = int(rng.integers(1, 6))
    values[rng.choice(RUNS, k, replace=False)] -= rng.uniform(0.5, 5.0, k)
    return values


def _latency(rng: np.random.Generator, cv: float, shift: float) -> np.ndarray:
    values = P95_MS * rng.lognormal(-cv * cv / 2, cv, RUNS)
    values *= np.where(rng.random(RUNS) < 0.05, rng.uniform(1.5, 3.0, RUNS), 1.0)
    values[RUNS - HOLD :] *= 1 + shift
    return values


def rows(quick: bool, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    thresholds = Thresholds()
    success, p95 = min_effect(thresholds, "success_rate"), min_effect(thresholds, "p95")
    reps = 150 if quick else 1000
    decision = "change points (harness history)"
    out = [
        Row(
            decision,
            f"success rate at 100 % with 1–5 one-run dips, {RUNS} runs",
            "fp",
            sum(bool(level_shifts(_dips(rng), success)) for _ in range(reps)),
            reps,
            NOMINAL,
        )
    ]
    for cv in (0.05,) if quick else (0.05, 0.10):
        out.append(
            Row(
                decision,
                f"p95 with {cv * 100:g} % run-to-run noise and outliers, no shift, {RUNS} runs",
                "fp",
                sum(bool(level_shifts(_latency(rng, cv, 0.0), p95)) for _ in range(reps)),
                reps,
                NOMINAL,
            )
        )
        found = sum(
            any(abs(s.index - (RUNS - HOLD)) <= TOLERANCE for s in level_shifts(_latency(rng, cv, 0.25), p95))
            for _ in range(reps)
        )
        out.append(
            Row(
                decision,
                f"p95 +25 % held {HOLD} runs, {cv * 100:g} % noise and outliers, {RUNS} runs "
                f"(found within {TOLERANCE} runs)",
                "power",
                found,
                reps,
            )
        )
    return out

"""The arrival model's load band calibrated with its own decision, ``harness.verdict.decide.load.load_checks``.

A run of the arrival model is simulated as its windows: per API and ``load.window_s`` (10 s)
window, the arrivals a Poisson generator at the asked rate starts (a Poisson count), stored as
key requests, none late or dropped. ``load_checks`` judges the run's ``arrival_rate`` check per
API; the run fails its load when any of them does not pass.

Null scenarios (a correct Poisson generator): the rate is the false-positive rate, nominal 1 %
(``poisson_band.ALPHA``), at rates 0.5/s–1,000/s and runs of 10 minutes to 24 hours over 3 APIs.
Effect scenarios (a generator that fell short): the rate is the power.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from bench.calibration.table import Row
from harness.verdict.decide.load import load_checks
from harness.verdict.decide.poisson_band import ALPHA
from harness.verdict.model import ApiLoad, LoadWindow, Measurements
from harness.verdict.rules.thresholds import Thresholds

APIS = ("auth", "generation", "payments")
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Scenario:
    kind: str
    text: str
    rate: float  # arrivals per second asked of each API
    run_s: float
    achieved: float = 1.0  # the generator's rate over the asked one in every window …
    stall_windows: int = 0  # … and this many windows (in one API) at half the rate
    reps_full: int = 400


def _null(rate: float, run_s: float, length: str, reps: int = 400) -> Scenario:
    return Scenario(
        "fp", f"correct Poisson generator, {rate:g}/s per API × 3 APIs, {length}", rate, run_s, reps_full=reps
    )


SCENARIOS = [
    _null(0.5, 3600, "1 h"),
    _null(1, 3600, "1 h"),
    _null(10, 3600, "1 h"),
    _null(1000, 3600, "1 h"),
    _null(0.5, 600, "10 min"),
    _null(100, 600, "10 min"),
    _null(100, 3600, "1 h"),
    _null(0.5, 86400, "24 h", reps=100),
    _null(10, 86400, "24 h", reps=100),
    Scenario("power", "generator 10 % short at 10/s, 1 h", 10, 3600, achieved=0.9, reps_full=200),
    Scenario("power", "generator 10 % short at 1/s, 1 h", 1, 3600, achieved=0.9, reps_full=200),
    Scenario(
        "power", "one 10 s window at half the rate, 100/s, 1 h", 100, 3600, stall_windows=1, reps_full=200
    ),
]
QUICK = {0: 100, 1: 100, 2: 100, 3: 100, 9: 50, 11: 50}  # scenario → repetitions with --quick


def rows(quick: bool, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    thresholds = Thresholds()
    out = []
    for i, s in enumerate(SCENARIOS):
        if quick and i not in QUICK:
            continue
        reps = QUICK[i] if quick else s.reps_full
        hits = sum(_fails(rng, s, thresholds) for _ in range(reps))
        out.append(
            Row("load band (Poisson arrivals)", s.text, s.kind, hits, reps, ALPHA if s.kind == "fp" else None)
        )
    return out


def _fails(rng: np.random.Generator, s: Scenario, thresholds: Thresholds) -> bool:
    window_s = thresholds.load.window_s
    windows = int(s.run_s // window_s)
    load = {}
    for a, api in enumerate(APIS):
        mean = np.full(windows, s.rate * window_s * s.achieved)
        if a == 0 and s.stall_windows:
            mean[rng.choice(windows, s.stall_windows, replace=False)] *= 0.5
        counts = rng.poisson(mean)
        windows_of = [
            LoadWindow(
                start_s=k * window_s,
                end_s=(k + 1) * window_s,
                target_per_s=s.rate,
                scheduled=int(c),
                started=int(c),
                late=0,
                dropped=0,
                requests=int(c),
            )
            for k, c in enumerate(counts)
        ]
        total = int(counts.sum())
        load[api] = ApiLoad(
            api=api,
            target_per_s=s.rate,
            windows=windows_of,
            scheduled=total,
            started=total,
            late=0,
            dropped=0,
            poisson=True,
            defining=f"POST /{api}",
        )
    measured = Measurements(
        run_id="calibration",
        test_env="",
        start=EPOCH,
        end=EPOCH,
        duration_s=s.run_s,
        warmup_s=0.0,
        load_model="arrival",
        load=load,
    )
    return any(
        c.passed is not True for c in load_checks(thresholds, measured, None) if c.metric == "arrival_rate"
    )

"""The calibration bench as the suite runs it: ``python bench/bench_calibration.py --quick`` drives the
project's own decision functions over null and effect scenarios, within 60 s, and exits 1 when a
false-positive rate's 95 % interval lies wholly above its nominal level."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from bench.calibration import MODULES
from bench.calibration.table import Row, markdown
from tests.helpers import ROOT

BENCH = ROOT / "bench"


def test_quick_calibration_runs_within_a_minute_and_every_false_positive_rate_holds():
    assert all((BENCH / "calibration" / f"{name}.py").exists() for name in MODULES)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_calibration.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    assert took <= 60, f"--quick took {took:.0f} s"
    table = done.stdout.splitlines()
    # Every decision is in the one table: abort, regression, load band, change points.
    for decision in (
        "| abort: success rate |",
        "| abort: p95 |",
        "| regression: p50 |",
        "| load band",
        "| change points",
    ):
        assert any(line.startswith(decision) for line in table), decision
    rows = [line for line in table if line.startswith("| regression: ")]
    for statistic in ("p50", "p95", "p99", "success rate"):
        fp = [r for r in rows if r.startswith(f"| regression: {statistic} |") and "| false positives |" in r]
        # Every scenario the issue names, for each statistic.
        scenarios = " ".join(fp)
        for named in (
            "independent requests",
            "AR(1) ρ 0.9",
            "τ 5 %",
            "τ 8 %",
            "run sizes 10:1",
            "0.5/s",
            "100/s",
            "10 min",
            "1 h",
        ):
            assert named in scenarios, (statistic, named)
        assert all(r.endswith("| yes |") for r in fp)
    power = {r.split(" | ")[1]: rate_of(r) for r in rows if "| power |" in r}
    # A +12 % shift against one baseline run is INCONCLUSIVE, not REGRESSED (but for the runs whose
    # run-level noise made it twice as large); a 2× shift is REGRESSED.
    assert power["p50 +12 %, τ 5 %, vs one run (one run cannot tell)"] <= 0.1
    assert power["p50 +12 %, τ 5 %, vs one run: INCONCLUSIVE"] >= 0.85
    assert power["2× latency, τ 5 %, vs one run"] == 1.0


def rate_of(row: str) -> float:
    found = re.search(r"\((\d+)/(\d+)\)", row)
    assert found, row
    hits, reps = found.groups()
    return int(hits) / int(reps)


def test_a_false_positive_rate_whose_interval_lies_above_nominal_is_miscalibrated():
    assert Row("regression: p50", "x", "fp", 12, 60, nominal=0.05).exceeds_nominal  # 20 %: 12–32 %
    assert not Row("regression: p50", "x", "fp", 5, 60, nominal=0.05).exceeds_nominal  # 8 %: 4–18 %
    assert not Row("regression: p50", "x", "power", 60, 60).exceeds_nominal
    assert "| NO |" in markdown([Row("regression: p50", "x", "fp", 12, 60, nominal=0.05)])

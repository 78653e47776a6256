"""Change points of a run history (``harness history``), pure: what a user would read from it.
The rates over many simulated histories are in bench/calibration/changepoints.py."""

from __future__ import annotations

import numpy as np
import pytest

from harness.commands.history import min_effect
from harness.history.changepoints import level_shifts, refused
from harness.verdict.rules.thresholds import Thresholds

SUCCESS = min_effect(Thresholds(), "success_rate")
P95 = min_effect(Thresholds(), "p95")


@pytest.mark.parametrize(
    "dips",
    [
        {30: 98.0, 32: 97.0},  # two one-run dips two runs apart
        {35: 96.0, 37: 98.5, 20: 97.5, 23: 99.0},
    ],
)
def test_one_run_dips_of_a_success_rate_at_100_percent_are_not_a_level_shift(dips):
    # Most successive differences are 0: the noise estimate is 0, and without a floor the penalty
    # collapsed and each pair of nearby dips was reported as a level of its own.
    values = [dips.get(i, 100.0) for i in range(60)]
    assert level_shifts(values, SUCCESS) == []


def test_a_success_rate_that_stays_a_point_lower_is_a_level_shift():
    (shift,) = level_shifts([100.0] * 30 + [99.0] * 30, SUCCESS)
    assert (shift.index, shift.before, shift.after) == (30, 100.0, 99.0)


def test_a_25_percent_latency_shift_held_for_ten_runs_is_found_where_it_starts():
    rng = np.random.default_rng(7)
    values = 50.0 * rng.lognormal(0, 0.05, 60)
    values[50:] *= 1.25
    (shift,) = level_shifts(list(values), P95)
    assert abs(shift.index - 50) <= 2 and shift.change_percent == pytest.approx(25, abs=8)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_value_that_is_not_a_finite_number_is_left_out_never_raises(bad):
    values = [50.0] * 20 + [bad] + [50.0] * 9 + [100.0] * 30
    assert refused(values) == 1
    (shift,) = level_shifts(values, P95)
    assert shift.index == 30  # an index of the series as given, the refused run included

"""The load plan: rates and profiles as a user writes them, every bad value one line, and the
rate curve's integral and inverse (what the exact split is built on)."""

from __future__ import annotations

import pytest

from harness.arrivals.plan import LoadPlan, RateCurve, load_profile, parse_rates, plan_from_texts
from harness.errors import HarnessError


def test_rates_parse_in_order_and_round_trip():
    rates = parse_rates("generation=10, payments=20.5")
    assert rates == {"generation": 10.0, "payments": 20.5}
    plan = LoadPlan(rates=rates)
    assert plan.load_model == "arrival" and plan.apis == ["generation", "payments"]
    assert plan.to_fields()["rates"] == "generation=10,payments=20.5"
    assert LoadPlan.from_fields(plan.to_fields()) == plan


def test_no_rate_is_the_users_model():
    plan = plan_from_texts("", "constant", "", 10)
    assert plan.load_model == "users" and plan.apis == []
    assert LoadPlan.from_fields({}).load_model == "users"


@pytest.mark.parametrize(
    "text, message",
    [
        ("checkout=5", "unknown API 'checkout' (use auth, generation, payments)"),
        ("generation=-1", "rate of generation must be more than 0 per second, not -1"),
        ("generation=0", "must be more than 0"),
        ("generation=ten", "rate of generation 'ten' is not a number"),
        ("generation", "'generation' is not API=PER_S"),
        ("generation=1,generation=2", "generation is given twice"),
        ("generation=inf", "must be more than 0"),
    ],
)
def test_bad_rates_are_one_line_errors(text, message):
    with pytest.raises(HarnessError, match=None) as info:
        parse_rates(text, "--rate")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("--rate: ")


def test_profile_file_ramps_and_holds(tmp_path):
    path = tmp_path / "ramp.yaml"
    path.write_text("- {duration: 60s, rates: {generation: 10}}\n- {duration: 1m, rates: {generation: 10}}\n")
    plan = plan_from_texts("", "poisson", str(path), 5)
    assert plan.load_model == "arrival" and plan.arrivals == "poisson" and plan.apis == ["generation"]
    assert [plan.rate_at("generation", t) for t in (0, 30, 60, 90, 500)] == [0, 5, 10, 10, 10]
    assert plan.rate_at("payments", 30) == 0
    assert LoadPlan.from_fields(plan.to_fields()) == plan


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "expected a list of stages"),
        ("- {duration: 10s}\n", "stage 1: expected exactly the keys duration and rates"),
        ("- {duration: 10s, rates: {generation: 1}, extra: 1}\n", "stage 1: expected exactly the keys"),
        ("- {duration: ten, rates: {generation: 1}}\n", "stage 1: duration 'ten' is not a duration"),
        ("- {duration: -5, rates: {generation: 1}}\n", "stage 1: duration -5 is not a duration"),
        (
            "- {duration: 5, rates: {generation: 1}}\n- {duration: 5, rates: {gen: 1}}\n",
            "stage 2: unknown API 'gen'",
        ),
        ("- {duration: 5, rates: {generation: -1}}\n", "rate of generation must be 0 or more"),
        ("- {duration: 5, rates: [generation]}\n", "rates must be a mapping"),
        ("- {duration: 5, rates: {generation: 0}}\n", "every rate is 0"),
        ("[unclosed\n", "not valid YAML/JSON"),
    ],
)
def test_bad_profiles_are_one_line_errors_naming_the_file(tmp_path, text, message):
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError) as info:
        load_profile(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_missing_profile_and_rates_with_profile(tmp_path):
    with pytest.raises(HarnessError, match="rate profile not found"):
        load_profile(tmp_path / "nope.yaml")
    path = tmp_path / "p.json"
    path.write_text('[{"duration": 10, "rates": {"payments": 3}}]')  # JSON is YAML too
    with pytest.raises(HarnessError, match="not both"):
        plan_from_texts("generation=1", "constant", str(path), 10)
    with pytest.raises(HarnessError, match="ARRIVALS: 'bursty' is not one of constant, poisson"):
        plan_from_texts("generation=1", "bursty", "", 10)
    with pytest.raises(HarnessError, match="MAX_LATENESS"):
        plan_from_texts("generation=1", "constant", "", 0)


def test_curve_integral_and_inverse_agree_on_ramps_jumps_and_holds():
    # 0 for 10 s, ramp 0 → 20 over 10 s, jump to 5, ramp down to 0 over 4 s, then nothing.
    curve = RateCurve([(10, 0, 0), (10, 0, 20), (0, 20, 5), (4, 5, 0)])
    assert curve.cumulative(10) == 0 and curve.cumulative(20) == pytest.approx(100)
    assert curve.cumulative(24) == pytest.approx(110) and curve.cumulative(1000) == pytest.approx(110)
    for level in [0.0, 0.5, 1, 37.2, 99.9, 100, 104, 109.99]:
        t = curve.time_of(level)
        assert curve.cumulative(t) == pytest.approx(level, abs=1e-9), level
    assert curve.time_of(0) == 10  # the first arrival comes when the rate rises above 0
    assert curve.time_of(111) is None  # the profile ends at 110 arrivals
    constant = RateCurve.constant(10)
    assert [constant.time_of(k) for k in range(4)] == [0, 0.1, 0.2, pytest.approx(0.3)]
    assert RateCurve.constant(0).time_of(1) is None

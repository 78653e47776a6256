"""What load was asked for: the load model, the arrival rate of each API over time, how arrivals
are spaced, and how long an arrival may wait for a free pool user.

Pure data and arithmetic (no Locust, no gevent): ``harness run`` validates its settings with it,
the Locust processes schedule from it, and the verdict rebuilds it from the stored run fields.

A rate profile is a list of stages ``{duration, rates}``, as k6's ramping-arrival-rate: each
stage ramps linearly from the rates at the end of the previous stage (0 before the first) to its
own rates over its duration (a stage of duration 0 jumps); after the last stage its rates hold.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.durations import parse_duration_s
from harness.errors import HarnessError

# Each API's iteration starts with exactly one key request, so counting stored key requests
# counts started iterations (harness/scenarios/iterations.py runs them; the verdict counts them).
KEY_REQUEST: dict[str, tuple[str, str]] = {
    "auth": ("POST", "/api/v1/auth/login"),
    "generation": ("POST", "/api/v1/generations"),
    "payments": ("POST", "/api/v1/payments"),
}
ARRIVAL_KINDS = ("constant", "poisson")
DEFAULT_MAX_LATENESS_S = 10.0


def _api(name: str, where: str) -> str:
    api = name.strip()
    if api not in KEY_REQUEST:
        raise HarnessError(f"{where}: unknown API {api!r} (use {', '.join(KEY_REQUEST)})")
    return api


def _rate(text: Any, api: str, where: str, *, zero_ok: bool) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise HarnessError(f"{where}: rate of {api} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise HarnessError(
            f"{where}: rate of {api} must be {'0 or more' if zero_ok else 'more than 0'} "
            f"per second, not {text}"
        )
    return value


def parse_rates(text: str, where: str = "RATES") -> dict[str, float]:
    """``generation=10,payments=20`` → {api: per second}; "" → {} (no rate: the users model)."""
    rates: dict[str, float] = {}
    for part in (p for p in text.split(",") if p.strip()):
        name, eq, value = part.partition("=")
        if not eq:
            raise HarnessError(f"{where}: {part.strip()!r} is not API=PER_S (e.g. generation=10)")
        api = _api(name, where)
        if api in rates:
            raise HarnessError(f"{where}: {api} is given twice")
        rates[api] = _rate(value.strip(), api, where, zero_ok=False)
    return rates


def format_rates(rates: Mapping[str, float]) -> str:
    return ",".join(f"{api}={rate:g}" for api, rate in rates.items())


@dataclass(frozen=True)
class Stage:
    duration_s: float
    rates: dict[str, float]

    def to_dict(self) -> dict:
        return {"duration": self.duration_s, "rates": dict(self.rates)}


def _stage_duration(value: Any, where: str) -> float:
    if isinstance(value, bool):
        value = None
    seconds: float | None
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_duration_s(value)
    else:
        seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise HarnessError(f"{where}: duration {value!r} is not a duration (use 60, 30s, 5m)")
    return float(seconds)


def stages_from_data(data: Any, where: str) -> tuple[Stage, ...]:
    """Stages from parsed YAML/JSON: a non-empty list of {duration, rates: {api: per_s}}."""
    if not isinstance(data, list) or not data:
        raise HarnessError(
            f"{where}: expected a list of stages like [{{duration: 60s, rates: {{generation: 10}}}}]"
        )
    stages = []
    for number, item in enumerate(data, start=1):
        at = f"{where}: stage {number}"
        if not isinstance(item, dict) or set(item) != {"duration", "rates"}:
            keys = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise HarnessError(f"{at}: expected exactly the keys duration and rates, got {keys}")
        rates_in = item["rates"]
        if not isinstance(rates_in, dict):
            raise HarnessError(f"{at}: rates must be a mapping like {{generation: 10}}")
        rates = {}
        for name, value in rates_in.items():
            api = _api(str(name), at)
            rates[api] = _rate(value, api, at, zero_ok=True)
        stages.append(Stage(_stage_duration(item["duration"], at), rates))
    if not any(rate > 0 for stage in stages for rate in stage.rates.values()):
        raise HarnessError(f"{where}: every rate is 0: the profile would start no arrival")
    return tuple(stages)


def load_profile(path: Path | str) -> tuple[Stage, ...]:
    """A rate profile file (YAML or JSON)."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessError(f"{where}: rate profile not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{where}: cannot read rate profile ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise HarnessError(
            f"{where}: not valid YAML/JSON" + (f" (line {line + 1})" if line is not None else "")
        ) from None
    return stages_from_data(data, where)


@dataclass(frozen=True)
class _Piece:
    """One linear piece of a rate curve: from t0 for d seconds, rate a → b, Λ(t0) = L0."""

    t0: float
    d: float  # math.inf for the final hold
    a: float
    b: float
    L0: float

    @property
    def L1(self) -> float:
        if math.isinf(self.d):
            return self.L0 if self.a == 0 else math.inf
        return self.L0 + (self.a + self.b) * self.d / 2


class RateCurve:
    """One API's rate r(t) (piecewise linear), its integral Λ(t) (arrivals due by t) and the inverse.

    Times are seconds since the arrivals began (the epoch). Arrival k of the whole stream (over
    all workers) is due at ``time_of(k)``: Λ is exact, so N workers taking every N-th arrival
    offer exactly the whole stream between them, whatever the ramp."""

    def __init__(self, points: Iterable[tuple[float, float, float]]):
        """``points``: (duration, rate at start, rate at end) pieces in order; the last rate holds."""
        pieces: list[_Piece] = []
        t = L = 0.0
        last = 0.0
        for d, a, b in points:
            if d > 0:
                pieces.append(_Piece(t, d, a, b, L))
                t, L = t + d, L + (a + b) * d / 2
            last = b
        pieces.append(_Piece(t, math.inf, last, last, L))
        self.pieces = pieces
        self._starts = [p.t0 for p in pieces]
        self._levels = [p.L0 for p in pieces]

    @classmethod
    def constant(cls, rate: float) -> RateCurve:
        return cls([(0.0, rate, rate)])

    def _piece_at(self, t: float) -> _Piece:
        return self.pieces[max(0, bisect.bisect_right(self._starts, t) - 1)]

    def rate_at(self, t: float) -> float:
        p = self._piece_at(t)
        if math.isinf(p.d):
            return p.a
        return p.a + (p.b - p.a) * min(max(t - p.t0, 0.0), p.d) / p.d

    def cumulative(self, t: float) -> float:
        """Λ(t): arrivals due in [0, t)."""
        if t <= 0:
            return 0.0
        p = self._piece_at(t)
        x = t - p.t0
        if math.isinf(p.d):
            return p.L0 + p.a * x
        return p.L0 + p.a * x + (p.b - p.a) * x * x / (2 * p.d)

    def time_of(self, level: float) -> float | None:
        """The t with Λ(t) = level (the earliest), or None when the curve never gets there."""
        index = max(0, bisect.bisect_right(self._levels, level) - 1)
        p = self.pieces[index]
        delta = level - p.L0
        if delta <= 0:
            return p.t0
        if math.isinf(p.d):
            return p.t0 + delta / p.a if p.a > 0 else None
        if delta > p.L1 - p.L0:  # rounding at a piece's end
            return p.t0 + p.d
        # Λ(t0 + x) = L0 + a·x + k·x²/2 with k = (b − a)/d; this form of the root has no
        # cancellation and also holds for a = 0 and for ramps down (k < 0).
        k = (p.b - p.a) / p.d
        return p.t0 + 2 * delta / (p.a + math.sqrt(max(p.a * p.a + 2 * k * delta, 0.0)))


@dataclass(frozen=True)
class LoadPlan:
    """The load asked for. No rates and no stages: the users model (Locust's closed loop)."""

    rates: dict[str, float] = field(default_factory=dict)
    stages: tuple[Stage, ...] = ()
    arrivals: str = "constant"
    max_lateness_s: float = DEFAULT_MAX_LATENESS_S

    def __post_init__(self) -> None:
        if self.arrivals not in ARRIVAL_KINDS:
            raise HarnessError(f"ARRIVALS: {self.arrivals!r} is not one of {', '.join(ARRIVAL_KINDS)}")
        if self.rates and self.stages:
            raise HarnessError(
                "give rates (--rate/RATES) or a rate profile (--rate-profile/RATE_PROFILE), not both"
            )
        if not (math.isfinite(self.max_lateness_s) and self.max_lateness_s > 0):
            raise HarnessError(f"MAX_LATENESS: {self.max_lateness_s!r} must be more than 0 seconds")

    @property
    def load_model(self) -> str:
        return "arrival" if self.rates or self.stages else "users"

    @property
    def apis(self) -> list[str]:
        """APIs with a rate above 0 at some time, in KEY_REQUEST order."""
        given = set(self.rates) | {api for s in self.stages for api, rate in s.rates.items() if rate > 0}
        return [api for api in KEY_REQUEST if api in given]

    def curve(self, api: str) -> RateCurve:
        if self.rates:
            return RateCurve.constant(self.rates.get(api, 0.0))
        points, previous = [], 0.0
        for stage in self.stages:
            end = stage.rates.get(api, 0.0)
            points.append((stage.duration_s, previous, end))
            previous = end
        return RateCurve(points)

    def rate_at(self, api: str, t: float) -> float:
        """The rate of ``api`` (all workers together) t seconds after the arrivals began."""
        return self.curve(api).rate_at(t)

    def profile_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.stages], separators=(",", ":")) if self.stages else ""

    def to_fields(self) -> dict[str, Any]:
        """The fields stored on the ``run`` and ``load_plan`` points (docs/data-model.md)."""
        return {
            "load_model": self.load_model,
            "rates": format_rates(self.rates),
            "arrivals": self.arrivals,
            "rate_profile": self.profile_json(),
            "max_lateness_s": float(self.max_lateness_s),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> LoadPlan:
        """The plan back from stored fields (or a message); missing fields mean the users model."""
        profile = fields.get("rate_profile") or ""
        return cls(
            rates=parse_rates(fields.get("rates") or "", "rates"),
            stages=stages_from_data(json.loads(profile), "rate_profile") if profile else (),
            arrivals=fields.get("arrivals") or "constant",
            max_lateness_s=float(fields.get("max_lateness_s") or DEFAULT_MAX_LATENESS_S),
        )

    def describe(self) -> str:
        if self.load_model == "users":
            return "users model"
        what = (
            ", ".join(f"{api} {rate:g}/s" for api, rate in self.rates.items())
            if self.rates
            else f"profile of {len(self.stages)} stages over {sum(s.duration_s for s in self.stages):g} s"
        )
        return f"{self.arrivals} arrivals: {what}"


def plan_from_texts(
    rates: str, arrivals: str, rate_profile: str, max_lateness_s: float, rates_where: str = "RATES"
) -> LoadPlan:
    """The plan from option/setting texts (an empty profile path: none)."""
    stages = load_profile(rate_profile) if rate_profile.strip() else ()
    return LoadPlan(
        rates=parse_rates(rates, rates_where),
        stages=stages,
        arrivals=arrivals.strip() or "constant",
        max_lateness_s=max_lateness_s,
    )

"""The limits a run is judged against, read from ``baselines.yaml``.

Every key has a built-in default (the product's numbers from the brief), so a file only
needs the keys it changes. An unknown key, a wrong type or an out-of-range value is a
HarnessError: a typo in this file must never quietly turn a check off.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, overload

import yaml

from harness.errors import HarnessError
from harness.suggest import closest_match
from harness.verdict.rules.abort_rule import AbortRule, parse_abort

# Limit key → the metric of the check it makes (also the ``metric`` tag of threshold points).
LIMIT_METRICS = {
    "min_success_rate": "success_rate",
    "max_p50_ms": "p50",
    "max_p95_ms": "p95",
    "max_p99_ms": "p99",
    "max_ms": "max",
    "min_rps": "rps",
}
_ENDPOINT_KEY = re.compile(r"^[A-Z]+ \S.*$")


@dataclass(frozen=True)
class Limits:
    """Limits for one scope; None means "not checked"."""

    min_success_rate: float | None = None  # percent
    max_p50_ms: float | None = None
    max_p95_ms: float | None = None
    max_p99_ms: float | None = None
    max_ms: float | None = None
    min_rps: float | None = None

    def items(self) -> list[tuple[str, float]]:
        """The limits in force, in a stable order."""
        return [(k, v) for k, v in asdict(self).items() if v is not None]


@dataclass(frozen=True)
class Generation:
    target_per_s: float | None = 10.0  # None or 0: no throughput check
    min_throughput_ratio: float = 0.95
    # Overshoot is as wrong as shortfall: more generations than asked is not the load asked for.
    max_throughput_ratio: float | None = 1.05  # None: no upper bound


LATENCY_BASES = ("scheduled", "service")


@dataclass(frozen=True)
class Load:
    """How the offered load is verified (docs/baselines.md, "load")."""

    window_s: float = 10.0  # the achieved arrival rate is checked in every window this long
    tolerance: float = 0.05  # ... and must be within target × (1 ± tolerance), both directions
    max_loop_lag_ms: float | None = 100.0  # a load generator lagging more could not keep time
    # Arrival model: latency limits judge the time from each iteration's scheduled start
    # (no coordinated omission) or, with "service", each request's own response time.
    latency: str = "scheduled"


@dataclass(frozen=True)
class Regression:
    """How a run is compared with its baseline (docs/baselines.md, "Regression")."""

    # The practical minimum effect on a latency: the larger of the two, so a fast endpoint is
    # not failed by a fraction of a millisecond nor a slow one by a few per cent of noise.
    min_effect_percent: float = 10.0
    min_effect_ms: float = 2.0
    max_success_rate_drop: float = 1.0  # percentage points: the minimum effect on success rate
    false_positive_rate: float = 0.05  # chance that a run with no real change is called regressed
    windows: int = 10  # most consecutive windows a run's spread is computed from
    # How much healthy runs differ from run to run, in percent of a latency (of the failure rate for
    # the success rate): assumed when the baseline has fewer than 3 runs, which cannot measure it.
    # Measured on the sandbox (bench/README.md, "Run-to-run variation").
    run_to_run_percent: float = 5.0

    def min_effect(self, statistic: str, baseline: float) -> float:
        if statistic == "success_rate":
            return self.max_success_rate_drop
        return max(self.min_effect_percent / 100.0 * abs(baseline), self.min_effect_ms)


# Keys of the first, rule-based regression check; their meaning cannot be carried over.
RETIRED_REGRESSION_KEYS = ("p95_factor", "p95_slack_ms")


def _default_apis() -> dict[str, Limits]:
    return {
        "auth": Limits(min_success_rate=99.0, max_p95_ms=200.0),
        "generation": Limits(min_success_rate=95.0, max_p95_ms=500.0),
        "payments": Limits(min_success_rate=95.0, max_p95_ms=300.0),
    }


@dataclass(frozen=True)
class Thresholds:
    warmup_s: float = 5.0
    min_samples: int = 20
    max_cpu_percent: float | None = 90.0
    generation: Generation = field(default_factory=Generation)
    load: Load = field(default_factory=Load)
    apis: dict[str, Limits] = field(default_factory=_default_apis)
    # Per-endpoint overrides hold only the keys the file names (None = switch that check off).
    endpoints: dict[str, dict[str, float | None]] = field(default_factory=dict)
    regression: Regression = field(default_factory=Regression)
    abort: AbortRule = field(default_factory=AbortRule)  # how live checks judge (--abort-on-fail)
    source: str = "built-in defaults"

    def limits_for(self, key: str, api: str) -> Limits | None:
        """The limits for one endpoint: its group's, changed by its override if any.

        A group's min_rps is not inherited: a group's request rate says nothing about
        what each of its endpoints must reach. None means the endpoint has no limits.
        """
        override = self.endpoints.get(key)
        group = self.apis.get(api)
        if override is None and group is None:
            return None
        limits = replace(group, min_rps=None) if group is not None else Limits()
        return replace(limits, **override) if override else limits

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "warmup_s": self.warmup_s,
            "min_samples": self.min_samples,
            "max_cpu_percent": self.max_cpu_percent,
            "generation": asdict(self.generation),
            "load": asdict(self.load),
            # Every limit key, null when off, so the file can be rebuilt from this.
            "apis": {name: asdict(limits) for name, limits in self.apis.items()},
            "endpoints": {key: dict(override) for key, override in self.endpoints.items()},
            "regression": asdict(self.regression),
            "abort": self.abort.to_dict(),
        }


def load_thresholds(path: str | Path) -> Thresholds:
    """Read and validate a thresholds file; any problem is a one-line HarnessError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessError(f"{path}: thresholds file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read thresholds file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise HarnessError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_thresholds(data, source=str(path))


def parse_thresholds(data: Any, source: str = "baselines.yaml") -> Thresholds:
    """Build Thresholds from parsed YAML; keys the data leaves out keep their defaults."""
    p = _Parser(source)
    if data is None:
        data = {}
    top = p.mapping(data, "", "the file")
    p.known_keys(
        top,
        [
            "warmup_s",
            "min_samples",
            "max_cpu_percent",
            "generation",
            "load",
            "apis",
            "endpoints",
            "regression",
            "abort",
        ],
        "at the top level",
    )
    defaults = Thresholds()
    return Thresholds(
        warmup_s=p.number(top, "warmup_s", defaults.warmup_s, "", low=0),
        min_samples=p.whole(top, "min_samples", defaults.min_samples, ""),
        max_cpu_percent=p.number(
            top, "max_cpu_percent", defaults.max_cpu_percent, "", low=0, high=100, nullable=True
        ),
        generation=p.generation(top.get("generation")),
        load=p.load(top.get("load")),
        apis=p.apis(top.get("apis")),
        endpoints=p.endpoints(top.get("endpoints")),
        regression=p.regression(top.get("regression")),
        abort=parse_abort(p, top.get("abort")),
        source=source,
    )


def thresholds_as_points(
    thresholds: Thresholds,
    endpoint_apis: dict[str, str] | None = None,
    generation_target: float | None = None,
) -> list[dict[str, Any]]:
    """The limits in force per scope, as rows for the ``threshold`` measurement.

    Dashboards draw these rows, so they show the same lines the verdict uses. Give
    ``endpoint_apis`` (endpoint key → api) to resolve overrides against their group;
    without it an override's row holds only the keys it names, with api "".
    ``generation_target`` is the run's own target when it differs from the file's.
    """
    rows: list[dict[str, Any]] = []
    for api, limits in thresholds.apis.items():
        rows += _rows(f"api:{api}", api, "", limits)
    for key, override in thresholds.endpoints.items():
        group = (endpoint_apis or {}).get(key)
        if group is not None:
            rows += _rows(key, group, key, thresholds.limits_for(key, group) or Limits())
        else:
            rows += _rows(key, "", key, replace(Limits(), **override))
    target = generation_target if generation_target is not None else thresholds.generation.target_per_s
    if target:
        minimum = thresholds.generation.min_throughput_ratio * target
        rows.append(
            {
                "scope": "api:generation",
                "api": "generation",
                "endpoint": "",
                "metric": "throughput",
                "value": float(minimum),
            }
        )
        if thresholds.generation.max_throughput_ratio is not None:
            rows.append(
                {
                    "scope": "api:generation",
                    "api": "generation",
                    "endpoint": "",
                    "metric": "throughput_max",
                    "value": float(thresholds.generation.max_throughput_ratio * target),
                }
            )
    return rows


def _rows(scope: str, api: str, endpoint: str, limits: Limits) -> list[dict[str, Any]]:
    return [
        {
            "scope": scope,
            "api": api,
            "endpoint": endpoint,
            "metric": LIMIT_METRICS[key],
            "value": float(value),
        }
        for key, value in limits.items()
    ]


class _Parser:
    """Validation helpers that name the file and the dotted place of every bad value."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str) -> HarnessError:
        return HarnessError(f"{self.source}: {message}")

    def mapping(self, value: Any, place: str, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{place or what} must be a mapping of keys to values, not {_show(value)}")
        return value

    def known_keys(self, mapping: dict[str, Any], allowed: list[str], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                close = closest_match(str(key), allowed)
                hint = f" (did you mean '{close}'?)" if close else ""
                raise self.fail(f"unknown key '{key}' {where}{hint}")

    @overload
    def number(
        self,
        mapping: dict[str, Any],
        key: str,
        default: float,
        prefix: str,
        *,
        low: float | None = None,
        high: float | None = None,
        nullable: Literal[False] = False,
    ) -> float: ...

    @overload
    def number(
        self,
        mapping: dict[str, Any],
        key: str,
        default: float | None,
        prefix: str,
        *,
        low: float | None = None,
        high: float | None = None,
        nullable: bool = False,
    ) -> float | None: ...

    def number(
        self,
        mapping: dict[str, Any],
        key: str,
        default: float | None,
        prefix: str,
        *,
        low: float | None = None,
        high: float | None = None,
        nullable: bool = False,
    ) -> float | None:
        if key not in mapping:
            return default
        value, place = mapping[key], f"{prefix}{key}"
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{place} must be a number, not {_show(value)}")
        if low is not None and high is not None and not low <= value <= high:
            raise self.fail(f"{place} is {value} but must be between {low} and {high}")
        if low is not None and value < low:
            raise self.fail(f"{place} is {value} but must be {low} or more")
        return float(value)

    def whole(self, mapping: dict[str, Any], key: str, default: int, prefix: str) -> int:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{prefix}{key} must be a whole number, 0 or more, not {_show(value)}")
        return value

    def limits(self, value: Any, place: str, where: str) -> dict[str, float | None]:
        given = self.mapping(value, place, place)
        self.known_keys(given, list(LIMIT_METRICS), where)
        prefix = f"{place}."
        return {
            key: self.number(
                given,
                key,
                None,
                prefix,
                low=0,
                nullable=True,
                high=100 if key == "min_success_rate" else None,
            )
            for key in given
        }

    def apis(self, value: Any) -> dict[str, Limits]:
        """The file's groups. Naming only built-in groups tunes them; naming a group of its own
        describes another API, whose groups replace the built-in ones (which would otherwise
        warn, run after run, that they saw no requests). A named built-in group keeps its
        built-in limits for the keys it leaves out either way."""
        builtin = _default_apis()
        given = self.mapping(value, "apis", "apis")
        apis = {} if any(name not in builtin for name in given) else dict(builtin)
        for name, group in given.items():
            if not isinstance(name, str) or not name:
                raise self.fail(f"api group name {_show(name)} in apis must be a word, e.g. auth")
            limits = self.limits(group, f"apis.{name}", f"in apis.{name}")
            apis[name] = replace(builtin.get(name, Limits()), **limits)
        return apis

    def endpoints(self, value: Any) -> dict[str, dict[str, float | None]]:
        overrides = {}
        for key, override in self.mapping(value, "endpoints", "endpoints").items():
            if not isinstance(key, str) or not _ENDPOINT_KEY.match(key):
                raise self.fail(
                    f'endpoint key {_show(key)} in endpoints must be "METHOD name", e.g. "GET /health"'
                )
            overrides[key] = self.limits(override, f'endpoints."{key}"', f'in endpoints."{key}"')
        return overrides

    def generation(self, value: Any) -> Generation:
        given = self.mapping(value, "generation", "generation")
        names = [f.name for f in fields(Generation)]
        self.known_keys(given, names, "in generation")
        d = Generation()
        return Generation(
            target_per_s=self.number(
                given, "target_per_s", d.target_per_s, "generation.", low=0, nullable=True
            ),
            min_throughput_ratio=self.number(
                given, "min_throughput_ratio", d.min_throughput_ratio, "generation.", low=0, high=1
            ),
            max_throughput_ratio=self.number(
                given, "max_throughput_ratio", d.max_throughput_ratio, "generation.", low=1, nullable=True
            ),
        )

    def load(self, value: Any) -> Load:
        given = self.mapping(value, "load", "load")
        self.known_keys(given, [f.name for f in fields(Load)], "in load")
        d = Load()
        latency = given.get("latency", d.latency)
        if latency not in LATENCY_BASES:
            raise self.fail(f"load.latency is {_show(latency)} but must be one of {', '.join(LATENCY_BASES)}")
        window = given.get("window_s", d.window_s)
        # Arrivals are counted per second: a window is a whole number of those seconds.
        if (
            isinstance(window, bool)
            or not isinstance(window, (int, float))
            or window < 1
            or window != int(window)
        ):
            raise self.fail(
                f"load.window_s must be a whole number of seconds, 1 or more, not {_show(window)}"
            )
        return Load(
            window_s=float(window),
            # Above 1 a shortfall to zero would still pass: almost surely a percent typed as a ratio.
            tolerance=self.number(given, "tolerance", d.tolerance, "load.", low=0, high=1),
            max_loop_lag_ms=self.number(
                given, "max_loop_lag_ms", d.max_loop_lag_ms, "load.", low=0, nullable=True
            ),
            latency=latency,
        )

    def regression(self, value: Any) -> Regression:
        given = self.mapping(value, "regression", "regression")
        for key in RETIRED_REGRESSION_KEYS:
            if key in given:
                raise self.fail(
                    f"regression.{key} is no longer used: a run is now compared with its baseline "
                    f"statistically; set regression.min_effect_percent and regression.min_effect_ms "
                    f"instead (docs/baselines.md)"
                )
        self.known_keys(given, [f.name for f in fields(Regression)], "in regression")
        d = Regression()
        windows = self.whole(given, "windows", d.windows, "regression.")
        if windows < 5:
            raise self.fail(f"regression.windows is {windows} but must be 5 or more")
        return Regression(
            min_effect_percent=self.number(
                given, "min_effect_percent", d.min_effect_percent, "regression.", low=0
            ),
            min_effect_ms=self.number(given, "min_effect_ms", d.min_effect_ms, "regression.", low=0),
            max_success_rate_drop=self.number(
                given, "max_success_rate_drop", d.max_success_rate_drop, "regression.", low=0, high=100
            ),
            false_positive_rate=self._rate(given, "false_positive_rate", d.false_positive_rate),
            windows=windows,
            run_to_run_percent=self.number(
                given, "run_to_run_percent", d.run_to_run_percent, "regression.", low=0, high=100
            ),
        )

    def _rate(self, mapping: dict[str, Any], key: str, default: float) -> float:
        value = self.number(mapping, key, default, "regression.", low=0, high=1)
        if not 0 < value < 1:
            raise self.fail(f"regression.{key} is {value} but must be above 0 and below 1, e.g. 0.05")
        return value


def _show(value: Any) -> str:
    if value is None:
        return "null (empty)"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value)

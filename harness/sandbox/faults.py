"""Fault specs (``SCOPE:KEY=VALUE[,KEY=VALUE]``): parsing, precedence, and the per-request draw.

A scope is ``all``, an API group (``auth``, ``generation``, ``payments``), a route as Locust
names requests (``/api/v1/generations/[id]``: every method on it) or one endpoint, method plus
route (``POST /api/v1/payments``). Precedence is per key, most specific first: endpoint, route,
group, ``all``; so ``all:latency_ms=50`` plus ``POST /api/v1/payments:error_rate=1`` gives that
endpoint both.

A stall (``stall_at_s=T,stall_s=S``) holds every answer in scope for requests arriving between
T and T+S seconds after the sandbox's first request, until T+S: a GC pause or a failover, the
case where a closed-loop load generator stops sending and under-reports latency.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.sandbox.routes import ENDPOINTS, GROUPS, ROUTES, normalize_endpoint

# key -> inclusive (low, high); the ceiling on delays catches a unit mistake (seconds typed
# as milliseconds would be fine, minutes would not), which would otherwise hang a run.
KEY_RANGES: dict[str, tuple[float, float]] = {
    "error_rate": (0.0, 1.0),
    "latency_ms": (0.0, 60_000.0),
    "jitter_ms": (0.0, 60_000.0),
    "stall_at_s": (0.0, 86_400.0),
    "stall_s": (0.0, 3_600.0),
}

# Injected failures look like an overloaded or broken upstream: both codes occur in practice.
FAULT_STATUSES = (500, 503)


@dataclass(frozen=True)
class Fault:
    """The effective fault of one endpoint after precedence."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    stall_at_s: float = 0.0
    stall_s: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "stall_at_s": self.stall_at_s,
            "stall_s": self.stall_s,
        }


@dataclass
class FaultSpec:
    """One scope and the keys set for it (only the keys written; unset differs from zero)."""

    scope: str
    values: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ",".join(f"{key}={value:g}" for key, value in self.values.items())
        return f"{self.scope}:{keys}"


def _scope_rank(scope: str) -> int:
    """Lower ranks are applied first, so more specific scopes overwrite them."""
    if scope == "all":
        return 0
    if scope in GROUPS:
        return 1
    return 2 if scope in ROUTES else 3


def _covers(scope: str, endpoint: str, group: str) -> bool:
    return scope in ("all", group, endpoint) or scope == endpoint.split(" ", 1)[1]


def _parse_scope(text: str, spec: str) -> str:
    scope = text.strip()
    if scope == "all" or scope in GROUPS or scope in ROUTES:
        return scope
    endpoint = normalize_endpoint(scope)
    if endpoint in ENDPOINTS:
        return endpoint
    raise HarnessError(
        f"bad fault spec {spec!r}: unknown scope {scope!r} (use all, auth, generation, payments, "
        f"a route such as '/api/v1/generations/[id]' or an endpoint such as 'POST /api/v1/payments')"
    )


def _parse_value(key: str, text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise HarnessError(f"bad fault spec {spec!r}: {key}={text.strip()!r} is not a number") from None
    low, high = KEY_RANGES[key]
    if not math.isfinite(value) or not low <= value <= high:
        raise HarnessError(f"bad fault spec {spec!r}: {key}={text.strip()} is out of range {low:g}..{high:g}")
    return value


def parse_spec(spec: str) -> FaultSpec:
    """Parse one ``SCOPE:KEY=VALUE[,KEY=VALUE]``; a bad spec raises HarnessError naming it."""
    if not isinstance(spec, str):
        raise HarnessError(f"bad fault spec {spec!r}: expected a string SCOPE:KEY=VALUE[,KEY=VALUE]")
    first_eq = spec.find("=")
    # The last ':' before the first '=' splits scope from keys, so routes may hold ':' later on.
    colon = spec.rfind(":", 0, first_eq) if first_eq >= 0 else -1
    if colon < 0:
        raise HarnessError(f"bad fault spec {spec!r}: expected SCOPE:KEY=VALUE[,KEY=VALUE]")
    scope = _parse_scope(spec[:colon], spec)
    values: dict[str, float] = {}
    for pair in spec[colon + 1 :].split(","):
        key, eq, text = pair.partition("=")
        key = key.strip()
        if not eq:
            raise HarnessError(f"bad fault spec {spec!r}: {pair.strip()!r} is not KEY=VALUE")
        if key not in KEY_RANGES:
            raise HarnessError(f"bad fault spec {spec!r}: unknown key {key!r} (use {', '.join(KEY_RANGES)})")
        values[key] = _parse_value(key, text, spec)
    return FaultSpec(scope, values)


def parse_specs(specs: Iterable[str]) -> list[FaultSpec]:
    """Parse many specs and merge those of one scope (a later key wins), keeping first-seen order."""
    merged: dict[str, FaultSpec] = {}
    for text in specs:
        spec = parse_spec(text)
        merged.setdefault(spec.scope, FaultSpec(spec.scope)).values.update(spec.values)
    return list(merged.values())


def resolve(specs: Iterable[FaultSpec]) -> dict[str, Fault]:
    """Effective fault per endpoint, for the endpoints that any spec touches."""
    ordered = sorted(specs, key=lambda spec: _scope_rank(spec.scope))
    effective: dict[str, Fault] = {}
    for endpoint, group in ENDPOINTS.items():
        values: dict[str, float] = {}
        for spec in ordered:
            if _covers(spec.scope, endpoint, group):
                values.update(spec.values)
        if values:
            effective[endpoint] = Fault(**values)
    return effective


class FaultTable:
    """The fault set in force; replaced as a whole (CLI at start, admin endpoint mid-run).

    Replacement swaps one dict reference, so a request in flight sees either the old set or the
    new one, never a mix.
    """

    def __init__(self, specs: Iterable[str] = ()) -> None:
        self._specs: list[FaultSpec] = []
        self._by_endpoint: dict[str, Fault] = {}
        self.replace(specs)

    def replace(self, specs: Iterable[str]) -> None:
        parsed = parse_specs(specs)  # raises before anything changes
        self._specs, self._by_endpoint = parsed, resolve(parsed)

    def for_endpoint(self, endpoint: str) -> Fault | None:
        return self._by_endpoint.get(endpoint)

    def specs(self) -> list[str]:
        return [str(spec) for spec in self._specs]

    def effective(self) -> dict[str, dict[str, float]]:
        return {endpoint: fault.as_dict() for endpoint, fault in self._by_endpoint.items()}


def draw_delay_s(fault: Fault, rng: random.Random) -> float:
    """Seconds to hold this request: the fixed latency plus uniform jitter."""
    jitter = rng.uniform(0.0, fault.jitter_ms) if fault.jitter_ms else 0.0
    return (fault.latency_ms + jitter) / 1000.0


def stall_hold_s(fault: Fault, since_first_s: float) -> float:
    """Seconds to hold a request that arrived ``since_first_s`` after the sandbox's first
    request: until the stall's end when it arrived inside the stall, else 0."""
    end = fault.stall_at_s + fault.stall_s
    if fault.stall_s > 0 and fault.stall_at_s <= since_first_s < end:
        return end - since_first_s
    return 0.0


def draw_error_status(fault: Fault, rng: random.Random) -> int | None:
    """The status to fail this request with, or None to let it through."""
    if fault.error_rate and rng.random() < fault.error_rate:
        return rng.choice(FAULT_STATUSES)
    return None

"""The verdict's first two questions, as pure functions: was the load as asked, and if not, whose
limit was hit (docs/load-models.md, docs/baselines.md "load").

A load that was not as asked is the load generator's when it could not keep up (CPU, event-loop
lag, a pool too small while the target answered fast): that check is not judged, its scope is
``load generator`` and it makes the run INCONCLUSIVE. It is the target's when its answers held
the users (answers slower than the API's latency limit while arrivals waited): that check fails,
naming the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.verdict.decide.numbers import at_least, at_most, num
from harness.verdict.decide.poisson_band import ALPHA as POISSON_ALPHA, band as poisson_band, window_level
from harness.verdict.model import ApiLoad, Check, LoadWindow, Measurements
from harness.verdict.rules.thresholds import Limits, Thresholds

GENERATOR = "load generator"  # the scope of every check that blames the load generator
# Little's law gives the pool a rate needs on average; arrivals are not that even.
POOL_HEADROOM = 1.25


@dataclass(frozen=True)
class _Cause:
    generator: bool  # True: the load generator's limit; False: the target's
    text: str  # why, and for the load generator what to change


def load_checks(
    thresholds: Thresholds, measured: Measurements, generation_target: float | None
) -> list[Check]:
    """Question (a) with (b): one check per API given a rate (arrival model), or the two-sided
    generation throughput check (users model)."""
    if measured.load_model == "arrival":
        checks = [_arrival_check(thresholds, measured, measured.load[api]) for api in sorted(measured.load)]
        return checks + [
            c for api in sorted(measured.load) if (c := counts_check(measured.load[api])) is not None
        ]
    return _generation_checks(thresholds, measured, generation_target)


def is_generator_limit(check: Check) -> bool:
    """A check saying the load generator, not the target, set the load: the run proves nothing."""
    return check.scope == GENERATOR and check.passed is None


def latency_limit(limits: Limits | None) -> float | None:
    """The tightest latency limit of an API group: an answer slower than it is a slow answer."""
    if limits is None:
        return None
    values = [
        v for v in (limits.max_p50_ms, limits.max_p95_ms, limits.max_p99_ms, limits.max_ms) if v is not None
    ]
    return min(values) if values else None


# -- arrival model ---------------------------------------------------------------------------------


def _arrival_check(thresholds: Thresholds, measured: Measurements, load: ApiLoad) -> Check:
    scope, tolerance, window_s = f"api:{load.api}", thresholds.load.tolerance, thresholds.load.window_s
    # Poisson arrivals: the run's error budget is spread over every window of every API judged,
    # and each API's whole judged run when it has more than one window (one test more).
    tests = sum(len(api.windows) + (len(api.windows) > 1) for api in measured.load.values())
    level = window_level(tests) if load.poisson else None
    if not load.windows:
        return Check(
            scope,
            "arrival_rate",
            load.target_per_s,
            None,
            None,
            "load",
            f"{scope}: no full {num(window_s)} s window of arrivals after the warm-up: "
            f"the arrival rate of {num(load.target_per_s)}/s cannot be verified",
        )
    off = [w for w in load.windows if _off(w, tolerance, level)]
    whole = whole_run(load.windows)
    if not off and len(load.windows) > 1 and _off(whole, tolerance, level):
        # Every window within its band, the run as a whole not: a shortfall too small for one
        # window's band at a low rate (10 % at 1/s) adds up over the run.
        off = [whole]
    if not off:
        rates = [w.achieved_per_s for w in load.windows]
        return Check(
            scope,
            "arrival_rate",
            load.target_per_s,
            _worst_rate(load.windows),
            True,
            "load",
            f"{scope}: {num(min(rates))}–{num(max(rates))} arrivals/s in every {num(window_s)} s "
            f"window, within {_band(load.target_per_s, tolerance, level)}"
            + (
                f"; {whole.iterations} of {num(whole.target_per_s * whole.duration_s)} asked over the "
                f"whole judged run ({num(whole.achieved_per_s)}/s)"
                if len(load.windows) > 1
                else ""
            ),
        )
    causes = [(w, _arrival_cause(thresholds, measured, load, w)) for w in off]
    # The load generator's limit is named first: until it is lifted the run says nothing of the target.
    window, cause = next(((w, c) for w, c in causes if c.generator), causes[0])
    what = f"{_window_text(window, tolerance, level)}: {cause.text}"
    if window is whole:
        what = f"over the whole judged run, {what}"
    if cause.generator:
        return Check(
            GENERATOR,
            "arrival_rate",
            window.target_per_s,
            window.achieved_per_s,
            None,
            "load",
            f"{GENERATOR}: {scope} {what}",
        )
    return Check(
        scope, "arrival_rate", window.target_per_s, window.achieved_per_s, False, "load", f"{scope}: {what}"
    )


def whole_run(windows: list[LoadWindow]) -> LoadWindow:
    """An API's judged windows as one: counts summed, the rate asked averaged over their time,
    the load generator's worst state and the slowest answer in flight."""
    duration = sum(w.duration_s for w in windows)

    def worst(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return max(known) if known else None

    requests = [w.requests for w in windows]
    pools = [w.pool_users for w in windows if w.pool_users is not None]
    return LoadWindow(
        start_s=windows[0].start_s,
        end_s=windows[0].start_s + duration,
        target_per_s=sum(w.target_per_s * w.duration_s for w in windows) / duration if duration else 0.0,
        scheduled=sum(w.scheduled for w in windows),
        started=sum(w.started for w in windows),
        late=sum(w.late for w in windows),
        dropped=sum(w.dropped for w in windows),
        requests=None if any(r is None for r in requests) else sum(r for r in requests if r is not None),
        max_lag_ms=worst([w.max_lag_ms for w in windows]),
        cpu_max_percent=worst([w.cpu_max_percent for w in windows]),
        loop_lag_max_ms=worst([w.loop_lag_max_ms for w in windows]),
        pool_users=max(pools) if pools else None,
        slowest_in_flight_ms=worst([w.slowest_in_flight_ms for w in windows]),
    )


def counts_check(load: ApiLoad) -> Check | None:
    """The load generator's own count of started iterations against the key requests InfluxDB holds:
    two witnesses of the same arrivals, apart only by the half second at each end of the judged span."""
    stored = load.requests
    if stored is None or not load.windows:
        return None
    scope = f"api:{load.api}"
    allowed = 0.01 * stored + load.target_per_s + 2
    if abs(load.started - stored) <= allowed:
        return Check(
            scope,
            "arrival_counts",
            allowed,
            float(load.started - stored),
            True,
            "data",
            f"{scope}: {load.started} iterations started by the load generator, {stored} key requests "
            f"({load.defining}) stored",
        )
    return Check(
        scope,
        "arrival_counts",
        allowed,
        float(load.started - stored),
        None,
        "data",
        f"{scope}: the load generator counted {load.started} iterations started but InfluxDB holds "
        f"{stored} key requests ({load.defining}) in the judged windows: its arrival counts cannot be trusted",
    )


def _bounds(w: LoadWindow, tolerance: float, level: float | None) -> tuple[float, float]:
    """The lowest and highest arrivals per second the window may have: the tolerance, never less
    than one arrival (a window edge can fall either side of one), and for Poisson arrivals
    (``level`` given) never tighter than the exact Poisson band of the count asked at that level
    (poisson_band.py: a random count at a low rate is skewed, so no ±kσ band is exact)."""
    asked = w.target_per_s * w.duration_s
    allowed = max(tolerance * asked, 1.0)
    low, high = asked - allowed, asked + allowed
    exact = poisson_band(asked, level) if level is not None else None
    if exact is not None:
        low, high = min(low, exact[0]), max(high, exact[1])
    return max(low, 0.0) / w.duration_s, high / w.duration_s


def _off(w: LoadWindow, tolerance: float, level: float | None) -> bool:
    """Outside the band, or too many arrivals late or dropped. A window above the band only
    because late arrivals caught up is the window that made them late, judged there."""
    low, high = _bounds(w, tolerance, level)
    on_time = (w.iterations - w.late) / w.duration_s
    over = not at_most(on_time if w.late else w.achieved_per_s, high)
    held = w.late + w.dropped > max(tolerance * w.scheduled, 1)
    return (not at_least(w.achieved_per_s, low)) or over or held


def _arrival_cause(thresholds: Thresholds, measured: Measurements, load: ApiLoad, w: LoadWindow) -> _Cause:
    limit_cpu, limit_lag = thresholds.max_cpu_percent, thresholds.load.max_loop_lag_ms
    if w.cpu_max_percent is not None and limit_cpu is not None and w.cpu_max_percent > limit_cpu:
        return _Cause(
            True,
            f"its CPU reached {num(w.cpu_max_percent)} % (limit {num(limit_cpu)} %): "
            f"add --processes (or workers) to offer this rate",
        )
    if w.loop_lag_max_ms is not None and limit_lag is not None and w.loop_lag_max_ms > limit_lag:
        return _Cause(
            True,
            f"its event loop lagged {num(w.loop_lag_max_ms)} ms (limit {num(limit_lag)} ms): "
            f"add --processes (or workers) to offer this rate",
        )
    held = w.late + w.dropped
    if held:
        limit = latency_limit(thresholds.apis.get(load.api))
        late = f"{w.late} arrivals late, {w.dropped} dropped"
        slow = w.slowest_in_flight_ms
        if limit is not None and slow is not None and slow > limit:
            pool = f"all {w.pool_users} users" if w.pool_users else "the users"
            return _Cause(
                False,
                f"the target held the load back: {pool} waited on its answers "
                f"(up to {num(slow)} ms, limit {num(limit)} ms; {late})",
            )
        answered = f"up to {num(slow)} ms" if slow is not None else "no slow answer"
        return _Cause(
            True,
            f"the pool of {_users(w.pool_users)} was too small while {load.api} answered fast "
            f"({answered}; {late}): raise --users to at least {_pool_needed(w)}",
        )
    if w.late == 0 and w.achieved_per_s > w.target_per_s:
        return _Cause(True, "it started more arrivals than asked")
    return _Cause(
        True,
        f"it scheduled {w.scheduled} and started {w.iterations} of "
        f"{num(w.target_per_s * w.duration_s)} arrivals with no user busy and no limit "
        f"reached: see locust.log",
    )


def _pool_needed(w: LoadWindow) -> str:
    """Little's law: users busy = arrival rate × iteration time. With the pool all busy, an
    iteration took pool / achieved rate, so the target rate needs target × that."""
    if not w.pool_users or w.achieved_per_s <= 0:
        return "more users"
    return str(math.ceil(POOL_HEADROOM * w.pool_users * w.target_per_s / w.achieved_per_s))


def _worst_rate(windows: list[LoadWindow]) -> float:
    return max(
        windows, key=lambda w: abs(w.achieved_per_s / w.target_per_s - 1) if w.target_per_s else 0
    ).achieved_per_s


def _window_text(w: LoadWindow, tolerance: float, level: float | None) -> str:
    when = f"in {num(w.start_s)}–{num(w.end_s)} s"
    rate = w.achieved_per_s
    low, high = _bounds(w, tolerance, level)
    band = _band(w.target_per_s, tolerance, level)
    if not at_least(rate, low):
        return f"{num(rate)} arrivals/s < {num(low)}/s ({band}) {when}"
    if not at_most(rate, high):
        return f"{num(rate)} arrivals/s > {num(high)}/s ({band}) {when}"
    return (
        f"{w.late + w.dropped} of {w.scheduled} arrivals late or dropped "
        f"(more than {num(tolerance * 100)} %) {when}"
    )


# -- users model -----------------------------------------------------------------------------------


def _generation_checks(thresholds: Thresholds, measured: Measurements, target: float | None) -> list[Check]:
    generation_ran = "generation" in measured.apis or any(
        s.api == "generation" for s in measured.endpoints.values()
    )
    if not target or not generation_ran:
        return []
    g = thresholds.generation
    minimum = g.min_throughput_ratio * target
    why = f"({num(g.min_throughput_ratio)} × target {num(target)}/s)"
    allowance = _pacing_allowance(measured)
    if allowance is not None and target - allowance < minimum:
        # A shortfall counts only beyond 4 pacing spreads, as an overshoot does: a run the live
        # checks stopped after 6 s made 9.33/s of 10 on pacing's spread alone.
        minimum = max(target - allowance, 0.0)
        why = f"(target {num(target)}/s − 4 × the pacing spread over {num(measured.duration_s)} s)"
    observed = measured.generation_rate
    if observed is None:
        return [
            Check(
                "api:generation",
                "throughput",
                minimum,
                None,
                None,
                "absolute",
                f"api:generation: the achieved generation rate is unknown: cannot check "
                f"it against {num(minimum)}/s {why}",
            )
        ]
    checks = []
    if at_least(observed, minimum):
        checks.append(
            Check(
                "api:generation",
                "throughput",
                minimum,
                observed,
                True,
                "absolute",
                f"api:generation: {num(observed)} generations/s ≥ {num(minimum)} generations/s {why}",
            )
        )
    else:
        shortfall = f"{num(observed)} generations/s < {num(minimum)} generations/s {why}"
        cause = _generation_cause(thresholds, measured, target, observed)
        if cause.generator:
            checks.append(
                Check(
                    GENERATOR,
                    "throughput",
                    minimum,
                    observed,
                    None,
                    "absolute",
                    f"{GENERATOR}: api:generation {shortfall}: {cause.text}",
                )
            )
        else:
            checks.append(
                Check(
                    "api:generation",
                    "throughput",
                    minimum,
                    observed,
                    False,
                    "absolute",
                    f"api:generation: {shortfall}" + (f": {cause.text}" if cause.text else ""),
                )
            )
    if g.max_throughput_ratio is not None:
        maximum = g.max_throughput_ratio * target
        above = f"({num(g.max_throughput_ratio)} × target {num(target)}/s)"
        if allowance is not None and target + allowance > maximum:
            # An overshoot counts only beyond 4 pacing spreads (see _pacing_spread).
            maximum = target + allowance
            above = f"(target {num(target)}/s + 4 × the pacing spread over {num(measured.duration_s)} s)"
        if at_most(observed, maximum):
            checks.append(
                Check(
                    "api:generation",
                    "throughput_max",
                    maximum,
                    observed,
                    True,
                    "absolute",
                    f"api:generation: {num(observed)} generations/s ≤ {num(maximum)} generations/s {above}",
                )
            )
        else:
            checks.append(
                Check(
                    GENERATOR,
                    "throughput_max",
                    maximum,
                    observed,
                    None,
                    "absolute",
                    f"{GENERATOR}: api:generation {num(observed)} generations/s > {num(maximum)} "
                    f"generations/s {above}: it offered more than asked, so the target was not "
                    f"judged at the asked load",
                )
            )
    return checks


def _pacing_spread(measured: Measurements) -> float | None:
    """The largest standard deviation of the create count that pacing alone makes, in creates.

    Paced users start at random phases, so each makes ⌊D/T⌋ or ⌈D/T⌉ creates in a window of D
    seconds: a spread of at most 1/2 per user, √N/2 for N users, and N is at most the peak user
    count. Over a long window that is nothing (20 users: 2.2 creates in 550); over a short one it
    alone passes ±5 % (10.53/s was seen in the 5 s judged window of a healthy 10-second run)."""
    users = measured.peak_users
    if not users or measured.duration_s <= 0:
        return None
    return math.sqrt(users) / 2


def _pacing_allowance(measured: Measurements) -> float | None:
    """4 pacing spreads as a rate over the judged run: how far from the target pacing alone can
    take a correct load generator's generations/s, either way."""
    spread = _pacing_spread(measured)
    return None if spread is None else 4 * spread / measured.duration_s


def _generation_cause(
    thresholds: Thresholds, measured: Measurements, target: float, observed: float
) -> _Cause:
    cpu, limit_cpu = measured.cpu_max_percent, thresholds.max_cpu_percent
    if cpu is not None and limit_cpu is not None and cpu > limit_cpu:
        return _Cause(
            True, f"its CPU reached {num(cpu)} % (limit {num(limit_cpu)} %): add --processes (or workers)"
        )
    stats, limits = measured.apis.get("generation"), thresholds.apis.get("generation") or Limits()
    held = []
    if (
        stats is not None
        and limits.max_p95_ms is not None
        and stats.p95 is not None
        and not at_most(stats.p95, limits.max_p95_ms)
    ):
        held.append(f"p95 {num(stats.p95)} ms > {num(limits.max_p95_ms)} ms")
    if (
        stats is not None
        and limits.min_success_rate is not None
        and stats.success_rate is not None
        and not at_least(stats.success_rate, limits.min_success_rate)
    ):
        held.append(f"success rate {num(stats.success_rate)} % < {num(limits.min_success_rate)} %")
    if held:
        return _Cause(False, f"its users waited on slow or failing answers ({', '.join(held)})")
    # The generation users answered fast and still could not make the rate: there were too few of them.
    users = measured.peak_users
    needed = math.ceil(POOL_HEADROOM * users * target / observed) if users and observed > 0 else None
    hint = f"raise --users to at least {needed}" if needed else "raise --users"
    return _Cause(
        True, f"the generation API answered fast, so its users were too few to offer {num(target)}/s: {hint}"
    )


# -- words -----------------------------------------------------------------------------------------


def _users(n: int | None) -> str:
    return "users" if not n else f"{n} user" + ("" if n == 1 else "s")


def _band(target: float, tolerance: float, level: float | None = None) -> str:
    random = (
        f", or the exact Poisson band ({num(POISSON_ALPHA * 100)} % of runs over all windows)"
        if level is not None
        else ""
    )
    return f"target {num(target)}/s ± {num(tolerance * 100)} %{random}"

"""The verdict as a pure function of thresholds and measurements (no I/O).

Precedence: error (nothing to judge, or the thresholds name something the run never did)
> fail (a limit was breached) > inconclusive (a check could not be evaluated, e.g. data is
missing) > pass. A run passes only when every check was evaluated and met.
"""

from __future__ import annotations

from dataclasses import replace

from harness.apis import API_GROUPS, api_for
from harness.suggest import closest_match
from harness.verdict.decide.compare import compare, hint_text
from harness.verdict.decide.load import is_generator_limit, load_checks
from harness.verdict.decide.numbers import at_least as _at_least, at_most as _at_most, num as _num
from harness.verdict.model import (
    AbortOutcome,
    Baseline,
    Check,
    Comparison,
    Completeness,
    Latency,
    Measurements,
    Stats,
    Verdict,
    VerdictName,
)
from harness.verdict.rules.thresholds import Limits, Thresholds

# Limit key → (metric/Stats attribute, words in messages, unit, "min" or "max").
_LIMITS = {
    "min_success_rate": ("success_rate", "success rate", "%", "min"),
    "max_p50_ms": ("p50", "p50", "ms", "max"),
    "max_p95_ms": ("p95", "p95", "ms", "max"),
    "max_p99_ms": ("p99", "p99", "ms", "max"),
    "max_ms": ("max", "max", "ms", "max"),
    "min_rps": ("rps", "throughput", "req/s", "min"),
}


def evaluate(
    thresholds: Thresholds,
    measured: Measurements,
    baseline: Baseline | Measurements | None = None,
    abort: AbortOutcome | None = None,
) -> Verdict:
    """The verdict's three questions in order: was the load as asked (and if not, whose limit was
    hit), did the target hold its limits, did it regress against a baseline.

    ``baseline``: what to compare the run with (a measured run is taken as a baseline of one).
    ``abort``: the judged abort of a run the live checks stopped (an AbortOutcome, made by
    ``harness.verdict.decide.abort.evaluate_run``, which builds on this function)."""
    if isinstance(baseline, Measurements):
        baseline = Baseline.of(baseline)
    errors: list[str] = []
    warnings = list(measured.warnings)
    if measured.total_requests == 0:
        errors.append(
            f"no requests were recorded for run {measured.run_id} after the "
            f"{_num(measured.warmup_s)} s warm-up: nothing to judge"
        )
    errors += _unused_overrides(thresholds, measured)
    warnings += _group_coverage(thresholds, measured)

    checks = load_checks(thresholds, measured, generation_target(thresholds, measured))
    for key in sorted(measured.endpoints):
        stats = measured.endpoints[key]
        checks.append(_samples_check(key, stats.requests, thresholds.min_samples))
        checks += _limit_checks(
            key,
            thresholds.limits_for(key, stats.api),
            stats,
            _judged_latency(thresholds, measured.scheduled.get(key)),
        )
    for api in sorted(measured.apis):
        if api in thresholds.apis:
            checks += _limit_checks(
                f"api:{api}",
                thresholds.apis[api],
                measured.apis[api],
                _judged_latency(thresholds, measured.scheduled_apis.get(api)),
            )
    checks = _excuse_load_checks(checks, measured.completeness)
    checks += _completeness_checks(measured.completeness, completeness_unit(measured.source))
    comparisons: list[Comparison] = []
    if baseline is not None and baseline.info.unusable:
        warnings.append(baseline.info.unusable)
    elif baseline is not None:
        comparisons = compare(thresholds, measured, baseline)
        checks += _regression_checks(comparisons)
        warnings += _baseline_warnings(measured, baseline, comparisons)
    warnings += _cpu_warnings(thresholds, measured)
    if abort is not None:
        checks.insert(0, abort.check)  # why the run stopped early comes first

    generator = [c.message for c in checks if is_generator_limit(c)]
    failed = [c.message for c in checks if c.passed is False]
    unjudged = [c.message for c in checks if c.passed is None and not is_generator_limit(c)]
    # Why the run stopped early leads the reasons whatever its outcome (the one-line summary shows
    # the first reason): the other checks judged a run it cut short.
    stopped = [abort.check.message] if abort is not None and abort.check.passed is not True else []
    reasons = errors + stopped + [m for m in generator + failed + unjudged if m not in stopped]
    verdict: VerdictName
    if errors:
        verdict = "error"
    elif generator:
        # The load was set by the load generator, not asked for: even a breached limit is then
        # a number of a load nobody asked about (docs/decisions.md).
        verdict = "inconclusive"
    elif failed:
        verdict = "fail"
    elif unjudged:
        verdict = "inconclusive"
    else:
        verdict = "pass"
    return Verdict(
        run_id=measured.run_id,
        verdict=verdict,
        checks=checks,
        reasons=reasons,
        warnings=warnings,
        measurements=measured,
        baseline_run_id=baseline.info.run_ids[0] if baseline is not None and baseline.info.run_ids else None,
        baseline=baseline.info if baseline is not None else None,
        comparisons=comparisons,
        abort=abort,
    )


def _judged_latency(thresholds: Thresholds, scheduled: Latency | None) -> Latency | None:
    """The latency from the scheduled start when the run has one and the thresholds judge by it."""
    return scheduled if scheduled is not None and thresholds.load.latency == "scheduled" else None


def _samples_check(scope: str, requests: int, min_samples: int) -> Check:
    if requests >= min_samples:
        passed, message = True, f"{scope}: {requests} requests ≥ {min_samples} (min_samples)"
    else:
        passed = None
        message = f"{scope}: only {requests} requests, fewer than min_samples {min_samples}: too few to judge"
    return Check(scope, "samples", float(min_samples), float(requests), passed, "data", message)


def _limit_checks(
    scope: str, limits: Limits | None, stats: Stats, scheduled: Latency | None = None
) -> list[Check]:
    """The scope's limits; latency limits judge ``scheduled`` (from each iteration's scheduled
    start) when given, with the service time named beside it."""
    if limits is None:
        return []
    checks = []
    for key, limit in limits.items():
        metric, words, unit, side = _LIMITS[key]
        observed = getattr(stats, metric)
        beside = ""
        if scheduled is not None and unit == "ms":
            service, observed = observed, getattr(scheduled, metric)
            words += " from scheduled start"
            beside = f" (service time {_num(service)} ms)" if service is not None else ""
        if observed is None:
            checks.append(
                Check(
                    scope,
                    metric,
                    limit,
                    None,
                    None,
                    "absolute",
                    f"{scope}: {words} has no data (no requests): not judged",
                )
            )
            continue
        passed = _at_least(observed, limit) if side == "min" else _at_most(observed, limit)
        message = f"{scope}: {words} {_compare(observed, limit, side, passed, unit)}{beside}"
        checks.append(Check(scope, metric, limit, observed, passed, "absolute", message))
    return checks


def generation_target(thresholds: Thresholds, measured: Measurements) -> float | None:
    """The generations/s a users-model run is held to: the run's own target wins over the file's.
    None in the arrival model, where a rate per API (``measured.load``) says what was asked."""
    if measured.load_model == "arrival":
        return None
    if measured.generation_target is not None:
        return measured.generation_target
    return thresholds.generation.target_per_s


def generation_target_in_force(thresholds: Thresholds, measured: Measurements) -> float | None:
    """The generation target, where it applies: a target is set and the run made generations."""
    target = generation_target(thresholds, measured)
    generation_ran = "generation" in measured.apis or any(
        s.api == "generation" for s in measured.endpoints.values()
    )
    return target if target and generation_ran else None


def completeness_unit(source: str) -> str:
    """What completeness counts: request points, or in sketch mode the requests inside the
    sketch points (one point holds a second's requests of an endpoint)."""
    return "requests in sketch points" if source == "sketches" else "request points"


def _completeness_checks(c: Completeness | None, unit: str = "request points") -> list[Check]:
    # The listeners drop and InfluxDB refuses whole lines: request points, or in sketch mode points.
    lines = "request points" if unit == "request points" else "points"
    if c is None or c.workers == 0:
        return [
            Check(
                "run",
                "completeness",
                0.0,
                None,
                None,
                "data",
                "run: the listener's counts are missing: cannot tell whether every request reached InfluxDB",
            )
        ]
    if c.stored > c.seen:
        passed, message = (
            None,
            (
                f"run: InfluxDB holds {c.stored} {unit} but the listeners counted only "
                f"{c.seen}: a worker's counts are missing, so completeness cannot be proven"
            ),
        )
    elif c.missing:
        passed, message = (
            None,
            (
                f"run: {c.missing} of {c.seen} {unit} are missing from InfluxDB "
                f"({c.stored} stored): the data is incomplete"
            ),
        )
    else:
        passed, message = True, f"run: all {c.seen} {unit} are in InfluxDB"
    checks = [Check("run", "completeness", 0.0, float(c.missing), passed, "data", message)]
    checks += [
        Check(
            "run",
            "worker_lost",
            0.0,
            None,
            None,
            "data",
            f"run: worker {worker} stopped without its final count (killed, out of memory or its host "
            f"lost): the requests it made after its last flush can never be counted",
        )
        for worker in c.lost_workers
    ]
    if c.quarantined:
        checks.append(
            Check(
                "run",
                "quarantined",
                0.0,
                float(c.quarantined),
                None,
                "data",
                f"run: InfluxDB refused {c.quarantined} {lines} one by one; they are kept in "
                f"the spool folder's quarantine file, not stored: the data is incomplete",
            )
        )
    if c.dropped:
        checks.append(
            Check(
                "run",
                "dropped",
                0.0,
                float(c.dropped),
                None,
                "data",
                f"run: the listeners dropped {c.dropped} {lines} that never "
                f"reached InfluxDB: the data is incomplete",
            )
        )
    else:
        checks.append(
            Check("run", "dropped", 0.0, 0.0, True, "data", f"run: the listeners dropped no {lines}")
        )
    return checks


def _regression_checks(comparisons: list[Comparison]) -> list[Check]:
    """A check per decided comparison: a regression fails the run; an inconclusive comparison is
    no check at all (too little data to answer "did it regress?" is not a failure of the target)."""
    return [
        Check(
            c.scope,
            f"{c.statistic}_vs_baseline",
            c.limit,
            c.current,
            c.decision != "regressed",
            "regression",
            c.reason,
        )
        for c in comparisons
        if c.decision != "inconclusive" and c.limit is not None
    ]


# Checks of how much load the run produced: a lost worker's missing share says nothing about the target.
_LOAD_METRICS = {"throughput", "rps", "arrival_rate"}


def _excuse_load_checks(checks: list[Check], c: Completeness | None) -> list[Check]:
    """A load shortfall while a worker was lost is not judged: it may be the lost worker's,
    never proven to be the target's (nor the pool's or the users' count, which the load
    checks would otherwise name)."""
    if c is None or not c.lost_workers:
        return checks
    lost = ", ".join(c.lost_workers)
    return [
        replace(check, passed=None, message=f"{check.message}: not judged, since worker {lost} was lost")
        if check.metric in _LOAD_METRICS and check.passed is not True
        else check
        for check in checks
    ]


def _unused_overrides(thresholds: Thresholds, measured: Measurements) -> list[str]:
    errors = []
    for key in thresholds.endpoints:
        api = api_for(key.split(" ", 1)[-1])
        if measured.load_model == "arrival" and api in API_GROUPS and api not in measured.load:
            continue  # its API had no rate: absent by design, not a typo
        if key not in measured.endpoints:
            close = closest_match(key, list(measured.endpoints))
            hint = f" (did you mean '{close}'?)" if close else ""
            errors.append(
                f"{thresholds.source} sets limits for endpoint '{key}' but the run "
                f"never called it{hint}: fix the key or remove the override"
            )
    return errors


def _group_coverage(thresholds: Thresholds, measured: Measurements) -> list[str]:
    ran = set(measured.apis) | {s.api for s in measured.endpoints.values()}
    warnings = [
        f"api group '{api}' has no limits in {thresholds.source}: its endpoints get only the samples check"
        for api in sorted(ran - set(thresholds.apis))
    ]
    if measured.load_model == "arrival":
        # Only the APIs given a rate run in the arrival model: the others are absent by design.
        absent = [api for api in thresholds.apis if api not in measured.load and api not in ran]
        if absent:
            warnings.append(
                f"arrival model: no rate for api group{'s' if len(absent) > 1 else ''} "
                f"{', '.join(absent)}: absent from this run, not judged"
            )
    elif ran:  # with no requests at all the error already says everything
        warnings += [
            f"no requests in api group '{api}': its limits were not checked"
            for api in thresholds.apis
            if api not in ran
        ]
    return warnings


def _baseline_warnings(
    measured: Measurements, baseline: Baseline, comparisons: list[Comparison]
) -> list[str]:
    label, info = baseline.label, baseline.info
    now = {k for k, s in measured.endpoints.items() if s.requests}
    then = {k for k, s in baseline.endpoints.items() if s.requests}
    warnings = [info.note] if info.note else []
    if info.load_difference:
        warnings.append(
            f"compared with {label} although its load differs ({info.load_difference}): --baseline-force"
        )
    warnings += [f"{key} was called in {label} but not in this run" for key in sorted(then - now)] + [
        f"{key} has no baseline in {label}: no regression check for it" for key in sorted(now - then)
    ]
    hint = hint_text(comparisons)
    if hint:
        warnings.append(hint)
    unsure = [c for c in comparisons if c.decision == "inconclusive"]
    if unsure:
        scopes = sorted({c.scope for c in unsure})
        shown = ", ".join(f"{c.scope} {c.statistic}" for c in unsure[:3]) + (", …" if len(unsure) > 3 else "")
        warnings.append(
            f"{len(unsure)} of {len(comparisons)} comparisons with {label} are inconclusive "
            f"({shown}; {len(scopes)} scopes): too few requests or an interval wider than the "
            f"minimum effect; they do not change the verdict"
        )
    return warnings


def _cpu_warnings(thresholds: Thresholds, measured: Measurements) -> list[str]:
    cpu, limit = measured.cpu_max_percent, thresholds.max_cpu_percent
    if cpu is None or limit is None or cpu <= limit:
        return []
    return [
        f"the load generator's CPU peaked at {_num(cpu)} % (above {_num(limit)} %): it was "
        f"saturated, so the latencies may be its own rather than the target's"
    ]


def _compare(observed: float, limit: float, side: str, passed: bool, unit: str) -> str:
    ops = {("min", True): "≥", ("min", False): "<", ("max", True): "≤", ("max", False): ">"}
    shown, bound = _pair(observed, limit)
    return f"{shown} {unit} {ops[side, passed]} {bound} {unit}"


def _pair(a: float, b: float) -> tuple[str, str]:
    """Both numbers with as few decimals as still tell them apart (94.996 vs 95)."""
    for places in range(1, 10):
        shown = _num(a, places), _num(b, places)
        if shown[0] != shown[1]:
            return shown
    return shown

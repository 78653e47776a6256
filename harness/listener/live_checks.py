"""Live checks (``--abort-on-fail``): every few seconds the master or local runner judges the run's
limits over the trailing window of stored points, and a failed limit stops the test.

Threading: everything here runs in greenlets of Locust's process. The window's numbers come from
InfluxDB — so every worker counts — in one request bounded by a gevent timeout (``requests`` is
monkey-patched by Locust, so waiting for InfluxDB yields to the users). A check that times out
or fails is skipped, never fatal: the live checks may only stop a run, not break it.

The stop is Locust's own: ``runner.quit()`` as its run-time limit does (headless), so users
finish, the listener's final flush runs and Locust's count still equals the stored points;
``runner.stop()`` in the web UI, which stays up for the next test.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Protocol

import gevent

from harness.influx.client import InfluxClient, InfluxSettings
from harness.listener.options import thresholds_or_exit
from harness.runner_role import Role
from harness.verdict import (
    AbortRecord,
    Thresholds,
    WindowFigures,
    abort_event_line,
    abort_looks,
    decide_abort,
    dispersion_span_start,
    latency_limits,
    measure_window,
    per_second,
    unread_seconds,
)

log = logging.getLogger("harness.listener")

# A request's point reaches InfluxDB within a flush (1 s) of the request's end; the newest two
# seconds are left out so the window is not judged on half its points.
SETTLE_S = 2.0
MAX_CHECK_S = 10.0  # one check's time budget, at most (and never more than the interval)


class CheckedListener(Protocol):
    """What the live checks use of the process's listener (InfluxListener), and nothing more. Read
    and called from the live checks' greenlet in the same process; ``add_run_data`` only queues
    (no I/O, never blocks)."""

    run_id: str
    test_env: str
    test_started_ns: int  # this test's start, set by the listener's test_start (registered first)
    points: str  # what it stores (--influx-points): the live checks read sketches in sketch mode

    @property
    def role(self) -> Role: ...

    @property
    def influx_settings(self) -> InfluxSettings: ...

    def add_run_data(self, lines: list[str], urgent: bool = False) -> None:
        """Queue run-data lines (long-lived policy); ``urgent``: flush them without waiting for the interval."""


class LiveChecks:
    def __init__(self, environment, listener: CheckedListener, thresholds: Thresholds):
        self.env = environment
        self.listener = listener
        self.thresholds = thresholds
        self.rule = thresholds.abort
        self.budget_s = min(self.rule.every_s, MAX_CHECK_S)
        self.client: InfluxClient | None = None  # its own session, made per test (settings may change)
        self.greenlet: gevent.Greenlet | None = None
        self.record: AbortRecord | None = None
        self.limits = latency_limits(thresholds, self.rule.checks)  # counted per window: the exact tests
        self.looks: int | None = None  # windows this test can judge (None: no run time, no end known)
        self.checked = 0  # windows judged this test
        self.skipped = 0  # checks that timed out or failed
        self.busy_s = 0.0  # wall time spent in checks (bench/bench_abort.py)

    # -- events ---------------------------------------------------------------------------
    def on_test_start(self, **_kwargs) -> None:
        self.cancel()
        # The listener's test_start ran first (registered first): run id and start are this test's.
        self.client = InfluxClient(replace(self.listener.influx_settings, timeout_s=self.budget_s))
        self.record, self.checked, self.skipped, self.busy_s = None, 0, 0, 0.0
        # The error budget (abort.alpha) is spread over every look the run can make: its run time
        # (Locust's --run-time, in seconds) from the first whole window on, one every every_s.
        self.looks = abort_looks(
            getattr(self.env.parsed_options, "run_time", None), self.first_check_s, self.rule.every_s
        )
        self.greenlet = gevent.spawn(
            self._loop, self.listener.run_id, self.listener.test_env, self.listener.test_started_ns
        )
        log.info(
            "live checks: %s over the trailing %g s, every %g s from t=%g s, alpha %g over %s (%s)",
            ", ".join(self.rule.checks),
            self.rule.window_s,
            self.rule.every_s,
            self.first_check_s,
            self.rule.alpha,
            f"{self.looks} looks" if self.looks else "looks without end",
            self.thresholds.source,
        )

    @property
    def first_check_s(self) -> float:
        """``after_s``, or later when the first whole window after the warm-up is not stored by then."""
        return max(self.rule.after_s, self.thresholds.warmup_s + SETTLE_S + self.rule.window_s)

    def on_test_stopping(self, **_kwargs) -> None:
        self.cancel()
        if self.checked or self.skipped:
            log.info(
                "live checks: %d windows judged, %d skipped, %.2f s spent",
                self.checked,
                self.skipped,
                self.busy_s,
            )

    def cancel(self) -> None:
        if self.greenlet is not None and self.greenlet is not gevent.getcurrent():
            self.greenlet.kill(block=False)
        self.greenlet = None

    # -- checking -------------------------------------------------------------------------
    def _loop(self, run_id: str, test_env: str, started_ns: int) -> None:
        gevent.sleep(max(0.0, self.first_check_s - (time.time_ns() - started_ns) / 1e9))
        while True:
            began = time.monotonic()
            record = self.check_once(run_id, test_env, started_ns)
            self.busy_s += time.monotonic() - began
            if record is not None:
                self.abort(run_id, test_env, record)
                return
            gevent.sleep(max(0.0, self.rule.every_s - (time.monotonic() - began)))

    def check_once(self, run_id: str, test_env: str, started_ns: int) -> AbortRecord | None:
        """Judge the trailing window once; an AbortRecord when a limit failed over it."""
        now_ns = time.time_ns()
        end_ns = now_ns - int(SETTLE_S * 1e9)
        start_ns = end_ns - int(self.rule.window_s * 1e9)
        if start_ns < started_ns + int(self.thresholds.warmup_s * 1e9):
            # Only whole windows after the warm-up: the verdict does not judge the warm-up either,
            # and "over the window" must not quietly mean over its last second.
            return None
        assert self.client is not None  # made when the test started
        source = "sketches" if self.listener.points == "sketches" else "requests"
        look = self.checked + self.skipped + 1
        try:
            with gevent.Timeout(self.budget_s):
                figures = measure_window(
                    self.client, run_id, start_ns, end_ns, self.rule.checks, test_env, self.limits, source
                )
                record = self.decide(figures, started_ns, now_ns, look)
                missing = unread_seconds(record, figures)
                if missing:
                    # A plain exact test rejected: before it stops the run, the test again with the
                    # per-second counts' dispersion, so bursts in a healthy run do not (dispersion.py).
                    judged_ns = started_ns + int(self.thresholds.warmup_s * 1e9)
                    seconds = per_second(
                        self.client,
                        run_id,
                        dispersion_span_start(start_ns, end_ns, judged_ns),
                        end_ns,
                        missing,
                        source,
                    )
                    figures = replace(figures, seconds={**figures.seconds, **seconds})
                    record = self.decide(figures, started_ns, now_ns, look)
        except gevent.Timeout:
            self.skipped += 1
            log.warning(
                "live checks: InfluxDB did not answer within %g s; this window is skipped", self.budget_s
            )
            return None
        except Exception as exc:  # noqa: BLE001 - a check that cannot run must never end the test
            self.skipped += 1
            log.warning("live checks: this window is skipped (%s)", exc)
            return None
        self.checked += 1
        return record

    def decide(self, figures: WindowFigures, started_ns: int, now_ns: int, look: int) -> AbortRecord | None:
        # A skipped window is a look not made: its share of alpha is not spent, never given to another.
        return decide_abort(
            self.thresholds, self.rule.checks, figures, started_ns, now_ns, look=look, looks=self.looks
        )

    # -- stopping -------------------------------------------------------------------------
    def abort(self, run_id: str, test_env: str, record: AbortRecord) -> None:
        self.record = record
        # Through the listener's writer: flushed (or spooled) with the run's last points.
        self.listener.add_run_data([abort_event_line(run_id, test_env, record)], urgent=True)
        log.error("live checks: %s; stopping the test", record.text())
        # A greenlet of its own: stopping fires test_stopping, which cancels this one.
        gevent.spawn(self._stop, record)

    def _stop(self, record: AbortRecord) -> None:
        runner = self.env.runner
        if getattr(self.env.parsed_options, "headless", False):
            self.env.process_exit_code = 1 if record.kind == "fail" else 2
            runner.quit()
        else:
            runner.stop()


def install(events, environment, listener: CheckedListener) -> LiveChecks | None:
    """On a master or local runner started with --abort-on-fail: load the limits (a bad file is one
    line and exit 2, before a user starts) and hook the checks to the test's start and stop."""
    options = environment.parsed_options
    if not getattr(options, "abort_on_fail", False) or not listener.role.drives_test:
        return None
    thresholds = thresholds_or_exit(options)
    checks = LiveChecks(environment, listener, thresholds)
    events.test_start.add_listener(checks.on_test_start)
    events.test_stopping.add_listener(checks.on_test_stopping)
    return checks

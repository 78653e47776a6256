"""One ``InfluxListener`` per Locust process: records requests and user counts (local runner and
workers), makes the run id and writes run events (master and local runner), and hands every line
to the batch writer, which owns the write path. ``harness.listener.plugin`` wires it to Locust's
events.

The run id travels to the workers in the master's parsed options: Locust sends them with every
spawn message, so an id set on the master's ``test_start`` reaches each worker before its own
``test_start`` fires (the way locust-plugins' listeners hand out their run id).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import gevent
import psutil
from gevent.event import Event

from harness.arrivals.runtime import arrivals_of
from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.datamodel import (
    ARRIVALS,
    EVENT_ARRIVALS_START,
    EVENT_SPAWN_COMPLETE,
    EVENT_START,
    EVENT_STOP,
    EVENT_STOPPING,
    EVENT_WORKER_LOST,
    LISTENER_STATS,
    LOAD_PLAN,
    USERS,
    USERS_INTERVAL_S,
    event_line,
)
from harness.influx.lineprotocol import make_line
from harness.influx.schema import ensure_database
from harness.influx.spool import Spool, spooled_dirs, worker_spool_dir
from harness.influx.writer import BatchWriter
from harness.listener.fleet import REPORT_KEY, FleetSketches, from_wire, to_wire
from harness.listener.loop_lag import LoopLag
from harness.listener.options import test_env
from harness.listener.recorder import RequestRecorder
from harness.listener.sketch_recorder import SketchRecorder
from harness.runid import new_run_id, validate_run_id
from harness.runner_role import Role, role_of

log = logging.getLogger("harness.listener")

FLUSH_INTERVAL_S = 1.0


def settings_from_options(options) -> InfluxSettings:
    return InfluxSettings(
        url=options.influx_url,
        database=options.influx_db,
        token=options.influx_token,
        username=options.influx_user,
        password=options.influx_password,
    )


class InfluxListener:
    def __init__(self, environment):
        self.env = environment
        options = environment.parsed_options
        self.options = options
        self.client = InfluxClient(settings_from_options(options))
        self.runs_rp = options.influx_runs_rp
        self.batch_size = max(1, int(options.influx_batch_size))
        self.flush_timeout = float(options.influx_flush_timeout)
        self.writer = BatchWriter(
            self.client,
            int(options.influx_max_pending),
            batch_size=self.batch_size,
            create_database=lambda: ensure_database(self.client, self.runs_rp),
        )
        self.user_given_run_id = options.run_id or ""
        self.recorder: RequestRecorder | SketchRecorder | BothRecorder | None = None
        self.points = getattr(options, "influx_points", "requests") or "requests"
        self.fleet: FleetSketches | None = None  # master and local runner in sketch mode: the merged series
        self.run_id = ""
        self.test_started_ns = 0
        self.drain_deadline: float | None = None  # one bounded final flush per test, however often asked
        self.final_seen: int | None = None  # the count of the final counts line handed over, if any
        self.worker = "local"
        self.flush_now = Event()
        self.greenlets: list[gevent.Greenlet] = []
        self.process = psutil.Process()
        self.loop_lag = LoopLag()
        self.arrivals_start_written = False
        self.test_env = test_env(options)

    # -- roles ----------------------------------------------------------------------------
    @property
    def role(self) -> Role:
        return role_of(self.env.runner)

    def records_requests(self) -> bool:
        return self.role.runs_users

    # -- events ---------------------------------------------------------------------------
    def on_test_start(self, **_kwargs) -> None:
        # The previous test's last lines and final counts (web UI: stop, then start again), before
        # the run id and worker they are tagged with change.
        self._collect(final=True)
        if self.role.drives_test:
            # A new id for every test started (web UI), unless the user fixed one.
            run_id = self.user_given_run_id or new_run_id()
            self.options.run_id = run_id
        self.run_id = validate_run_id(self.options.run_id or new_run_id())
        settings = settings_from_options(self.options)
        if settings != self.client.settings and self.writer.idle:
            # Workers get the master's options with the first spawn message.
            self.client = self.writer.client = InfluxClient(settings)
        self.test_started_ns = time.time_ns()
        if self.role is Role.LOCAL:
            self.worker = f"{socket.gethostname()}-{os.getpid()}"
        elif self.role is Role.WORKER:
            self.worker = self.env.runner.client_id
        self.test_env = test_env(self.options)
        self.points = getattr(self.options, "influx_points", "requests") or "requests"
        self.recorder = make_recorder(
            self.points, self.run_id, self.test_env, self.worker, lambda: _arrival_origin_ns(self.env)
        )
        self.fleet = (
            FleetSketches(self.run_id, self.test_env)
            if self.points != "requests" and self.role in (Role.MASTER, Role.LOCAL)
            else None
        )
        self.writer.begin(
            Spool(
                worker_spool_dir(
                    Path(self.options.influx_spool_dir),
                    self.client.settings.database,
                    self.run_id,
                    self.worker,
                )
            ),
            {"run_id": self.run_id, "worker": self.worker},
        )
        self.drain_deadline = self.final_seen = None
        self.process.cpu_percent(None)
        self.arrivals_start_written = False
        if self.role.drives_test:
            self.event(EVENT_START, "Run started", f"run {self.run_id} against {self.env.host}")
            self._load_plan()
            log.info(
                "run id %s (InfluxDB %s, database %s)",
                self.run_id,
                self.client.settings.url,
                self.client.settings.database,
            )
        if not self.greenlets:
            self.greenlets = [
                gevent.spawn(self._flush_loop),
                gevent.spawn(self._users_loop),
                gevent.spawn(self.loop_lag.run),
            ]

    def on_request(
        self,
        request_type,
        name,
        response_time,
        response_length,
        exception=None,
        start_time=None,
        response=None,
        context=None,
        **_kwargs,
    ) -> None:
        recorder = self.recorder
        if (
            recorder is not None
            and recorder.record(
                request_type, name, response_time, response_length, exception, start_time, response, context
            )
            >= self.batch_size
        ):
            self.flush_now.set()

    def on_spawning_complete(self, user_count, **_kwargs) -> None:
        if self.role.drives_test and self.recorder:
            self.event(EVENT_SPAWN_COMPLETE, "Spawning complete", f"{user_count} users running")

    def on_test_stopping(self, **_kwargs) -> None:
        # When the load stopped being generated: users only finish their current task after
        # this, so throughput is measured up to here (harness/verdict/reads/measure.py).
        if self.role.drives_test and self.recorder:
            self.event(EVENT_STOPPING, "Stopping", f"run {self.run_id}: stopping users")

    def on_test_stop(self, **_kwargs) -> None:
        if not self.recorder:
            return
        self._sample(final=True)  # the last, partial interval's arrivals
        if self.role is Role.MASTER:
            for node in self.env.runner.clients.missing:
                # Its points since its last flush are lost and uncounted; the verdict says so too.
                self.event(
                    EVENT_WORKER_LOST,
                    "Worker lost",
                    f"worker {node.id} stopped answering during run {self.run_id}",
                )
        if self.role.drives_test:
            self.event(EVENT_STOP, "Run stopped", f"run {self.run_id} stopped")
        if self.role is Role.WORKER and self.greenlets:
            # A worker's master waits only half a second for the final stats report that follows
            # this event; blocking here would make Locust's own count miss requests. The flusher
            # sends now, and quitting does the bounded final flush. The counts are final already:
            # the users have stopped, and a master in web-UI mode (--autostart, as
            # locust-k8s-operator runs it) judges after the stop, whether or not a quit follows.
            self._collect(final=True)
            self.flush_now.set()
            return
        self.finish()

    def on_quitting(self, **_kwargs) -> None:
        if self.recorder:
            self.finish()

    def finish(self) -> None:
        """Stop the background greenlets, then the bounded final flush. Safe to call again: on
        SIGTERM Locust fires quitting first and test_stop after, with users still stopping."""
        # The flusher stops first, so the final flush does not wait for it; a write it had in
        # flight stays queued in the writer and is sent here.
        gevent.killall(self.greenlets, block=True)
        self.greenlets = []
        self.drain()
        self.log_totals()

    # -- writing --------------------------------------------------------------------------
    @property
    def influx_settings(self) -> InfluxSettings:
        return self.client.settings

    def add_run_data(self, lines: list[str], urgent: bool = False) -> None:
        """Queue run-data lines (the long-lived policy); ``urgent`` wakes the flusher now."""
        self.writer.add(lines, self.runs_rp)
        if urgent:
            self.flush_now.set()

    def event(self, kind: str, title: str, text: str, ts_ns: int | None = None) -> None:
        """An annotation point (fields, so Grafana's annotation mapping can read them)."""
        self.add_run_data(
            [event_line(self.run_id, self.test_env, kind, title, text, ts_ns or time.time_ns())]
        )

    def _stats_line(self, seen: int, final: bool) -> str:
        # Same timestamp every time (the test's start): each new count overwrites the last,
        # so the stored point is always this worker's latest total. ``final`` only at the end: a
        # worker whose last point lacks it stopped without counting its last requests.
        counts = self.writer.counts
        return make_line(
            LISTENER_STATS.name,
            {"run_id": self.run_id, "test_env": self.test_env, "worker": self.worker},
            {
                "seen": seen,
                "written": counts.written,
                "retried": counts.retried,
                "dropped": counts.dropped,
                "pending": self.writer.pending_points,
                "spooled": self.writer.spooled_points,
                "quarantined": counts.quarantined,
                "final": final,
            },
            self.test_started_ns,
        )

    def _collect(self, final: bool = False) -> None:
        """Hand the recorder's lines, and this process's counts, to the writer."""
        if self.recorder and self.records_requests():
            lines = self.recorder.take()
            if lines or self.final_seen != self.recorder.seen:  # a final count said twice adds nothing
                lines.append(self._stats_line(self.recorder.seen, final))
                self.final_seen = self.recorder.seen if final else None
            self.writer.add(lines)
            if (
                self.role is Role.LOCAL
                and self.fleet is not None
                and not isinstance(self.recorder, RequestRecorder)
            ):
                self.fleet.add(self.recorder.take_deltas())
        if self.fleet is not None:
            lines = self.fleet.take()
            if lines:
                self.writer.add(lines)

    def on_report_to_master(self, data: dict, **_kwargs) -> None:
        """Worker, sketch mode: what was folded since the last report rides with Locust's stats
        report to the master, which merges the fleet's series (harness/listener/fleet.py)."""
        recorder = self.recorder
        if recorder is None or isinstance(recorder, RequestRecorder):
            return
        self._collect()  # fold the requests up to this report, so the master's seconds are current
        data[REPORT_KEY] = to_wire(recorder.take_deltas())

    def on_worker_report(self, client_id: str, data: dict, **_kwargs) -> None:
        if self.fleet is not None and data.get(REPORT_KEY):
            self.fleet.add(from_wire(data[REPORT_KEY]))

    def flush(self) -> bool:
        self._collect()
        return self.writer.flush()

    def _flush_loop(self) -> None:
        while True:
            self.flush_now.wait(FLUSH_INTERVAL_S)
            self.flush_now.clear()
            try:
                self.flush()
            except Exception:  # the loop must outlive any surprise, or every later point is lost
                log.exception("InfluxDB flush failed")

    def _users_loop(self) -> None:
        while True:
            gevent.sleep(USERS_INTERVAL_S)
            try:
                self._sample()
            except Exception:  # the loop must outlive any surprise, or every later sample is lost
                log.exception("sampling users and arrivals failed")

    def _sample(self, final: bool = False) -> None:
        """Once per interval: this process's users, CPU, loop lag and, in the arrival model, its
        pool and arrivals (``arrivals_of(environment)``, when the locustfile has one).

        ``final`` (at the test's stop): only the arrivals of the last, partial interval. A CPU
        share over the few milliseconds since the last sample is noise (one 10 ms tick in 3 ms
        reads as 347 %), and the user count is the regular samples' business."""
        runner = self.env.runner
        if self.recorder is None or runner is None:
            return
        arrivals = arrivals_of(self.env)
        if self.role.drives_test and arrivals is not None:
            self._arrivals_start(arrivals)
        if not self.records_requests():
            return
        now = time.time_ns()
        tags = {"run_id": self.run_id, "test_env": self.test_env, "worker": self.worker}
        samples = arrivals.sample() if arrivals is not None else []
        lines = self.recorder.lines
        if not final:
            fields = {
                "users": int(runner.user_count),
                "cpu_percent": float(self.process.cpu_percent(None)),
                "loop_lag_ms": float(self.loop_lag.take()),
            }
            if samples and arrivals is not None:
                fields["pool_busy"] = int(arrivals.pool.busy)
            lines.append(make_line(USERS.name, tags, fields, now))
        for sample in samples:
            api = sample.pop("api")
            lines.append(make_line(ARRIVALS.name, {**tags, "api": api}, sample, now))

    def _load_plan(self) -> None:
        """What load this test was asked for (``load_plan``, runs RP), so a run started with plain
        ``locust`` can be judged against it too."""
        arrivals = arrivals_of(self.env)
        if arrivals is None:
            return
        runner = self.env.runner
        fields = {
            **arrivals.plan.to_fields(),
            "users": int(getattr(runner, "target_user_count", 0) or 0),
            "spawn_rate": float(getattr(self.options, "spawn_rate", 0) or 0),
        }
        line = make_line(
            LOAD_PLAN.name, {"run_id": self.run_id, "test_env": self.test_env}, fields, time.time_ns()
        )
        self.writer.add([line], self.runs_rp)

    def _arrivals_start(self, arrivals) -> None:
        """The ``arrivals_start`` event, at the epoch the master decided (once per test)."""
        epoch = getattr(arrivals, "epoch", None)
        if self.arrivals_start_written or epoch is None:
            return
        self.arrivals_start_written = True
        text = f"run {self.run_id}: {arrivals.plan.describe()}"
        self.event(EVENT_ARRIVALS_START, "Arrivals started", text, int(epoch * 1e9))

    def drain(self) -> None:
        """Final flush: bounded wait for InfluxDB (once per test, however often asked), then say
        what could not be sent."""
        if self.drain_deadline is None:
            self.drain_deadline = time.monotonic() + self.flush_timeout
        self._collect(final=True)
        spilled = self.writer.drain(max(0.0, self.drain_deadline - time.monotonic()))
        if spilled:
            cause = self.writer.refused or self.writer.counts.first_error
            log.error(
                "InfluxDB listener: %d points were not written (%s); they wait in %s: "
                "run 'harness flush' when InfluxDB is back",
                spilled,
                cause,
                self.writer.spool.directory if self.writer.spool else "memory (no spool)",
            )

    def log_totals(self) -> None:
        counts, seen = self.writer.counts, self.recorder.seen if self.recorder else 0
        log.info(
            "InfluxDB listener [%s]: run %s: seen %d requests, wrote %d points, retried %d, dropped %d, "
            "spooled %d, quarantined %d",
            self.worker,
            self.run_id,
            seen,
            counts.written,
            counts.retried,
            counts.dropped,
            self.writer.spooled_points,
            counts.quarantined,
        )


class BothRecorder:
    """``--influx-points both``: every request as a point and in the sketches, so one run can be
    judged from either (``harness check --from``)."""

    def __init__(self, requests: RequestRecorder, sketches: SketchRecorder):
        self.requests, self.sketches = requests, sketches
        self.lines = requests.lines

    @property
    def seen(self) -> int:
        return self.requests.seen

    def record(self, *args) -> int:
        self.sketches.record(*args)
        return self.requests.record(*args)

    def take(self) -> list[str]:
        lines = self.requests.take()
        self.lines = self.requests.lines
        return lines + self.sketches.take()

    def take_deltas(self):
        return self.sketches.take_deltas()


def make_recorder(points: str, run_id: str, test_env: str, worker: str, origin=lambda: 0):
    if points == "sketches":
        return SketchRecorder(run_id, test_env, worker, origin)
    if points == "both":
        return BothRecorder(
            RequestRecorder(run_id, test_env, worker), SketchRecorder(run_id, test_env, worker, origin)
        )
    return RequestRecorder(run_id, test_env, worker)


def _arrival_origin_ns(environment) -> int:
    """Where sketch seconds start: at the arrival model's epoch (its fraction of a second), so the
    verdict's windows, whole seconds from the first arrival, hold whole seconds; else 0."""
    arrivals = getattr(environment, "harness_arrivals", None)
    if arrivals is None:
        return 0
    engine = getattr(arrivals, "engine", None)
    epoch = arrivals.epoch or (engine.epoch if engine is not None else None)  # master/local; worker
    return int(epoch * 1e9) if epoch else 0


def preflight(listener: InfluxListener) -> None:
    """Reachable, credentials accepted, database present (created on 1.x)."""
    ensure_database(listener.client, listener.runs_rp, listener.client.ping())
    waiting = spooled_dirs(Path(listener.options.influx_spool_dir), listener.client.settings.database)
    if waiting:
        log.warning(
            "%d spooled batch folders from earlier runs wait in %s: run 'harness flush'",
            len(waiting),
            listener.options.influx_spool_dir,
        )

"""Wires the listener into Locust's events: its options, one ``InfluxListener`` per process, the
master's and workers' extra hooks, and the live checks. Nothing else lives here."""

from __future__ import annotations

import sys

from harness.errors import HarnessError
from harness.listener import live_checks
from harness.listener.influx_listener import InfluxListener, preflight
from harness.runid import validate_run_id
from harness.runner_role import Role, role_of


def install(events) -> None:
    from harness.listener.early import EarlyEvents
    from harness.listener.options import add_arguments

    early = EarlyEvents(events)

    @events.init_command_line_parser.add_listener
    def _(parser, **_kwargs):
        add_arguments(parser)

    @events.init.add_listener
    def _(environment, **_kwargs):
        options = environment.parsed_options
        if options is None or getattr(options, "influx_disable", False):
            early.stop()
            return
        try:
            if options.run_id:
                validate_run_id(options.run_id)
            listener = InfluxListener(environment)
            # A worker learns the InfluxDB settings from the master's spawn message; checking
            # its own (possibly default) options here would refuse a healthy setup.
            if role_of(environment.runner) is not Role.WORKER:
                preflight(listener)
        except HarnessError as exc:
            # One line and a non-zero exit, before a single user starts.
            sys.stderr.write(f"harness.listener: error: {exc}\n")
            sys.exit(2)
        role = role_of(environment.runner)
        if role is Role.MASTER:
            from harness.listener import master_stop

            master_stop.install(environment.runner)
        elif role is Role.WORKER:
            from harness.listener import worker_spawn

            worker_spawn.install()
            # Locust's --processes children drop --csv and --html but keep --json-file and
            # --json: they would overwrite the master's file, or print their own (empty) stats
            # beside the master's, when they exit.
            options.json_file = None
            options.json = False
        events.test_start.add_listener(listener.on_test_start)
        events.request.add_listener(listener.on_request)
        events.spawning_complete.add_listener(listener.on_spawning_complete)
        events.test_stopping.add_listener(listener.on_test_stopping)
        events.test_stop.add_listener(listener.on_test_stop)
        events.quitting.add_listener(listener.on_quitting)
        if role == "worker":
            events.report_to_master.add_listener(listener.on_report_to_master)
        elif role == "master":
            events.worker_report.add_listener(listener.on_worker_report)
        # After the listener's own handlers, so a test's run id and start are set when checks begin.
        live_checks.install(events, environment, listener)
        early.hand_over(listener.on_test_start, listener.on_request)

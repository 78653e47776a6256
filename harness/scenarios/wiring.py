"""Hooks the scenarios into a Locust process: the load model's user classes, the arrival
runtime, and the GenerationUser total — all decided on the master (or local runner) before the
first user is dispatched, and again whenever a new test starts (web UI)."""

from __future__ import annotations

import logging

from locust.runners import STATE_INIT, STATE_STOPPED

from harness.arrivals.plan import LoadPlan
from harness.arrivals.runtime import HELLO, MESSAGE, ArrivalRuntime, attach, plan_from_options
from harness.errors import HarnessError
from harness.runner_role import Role, role_of
from harness.scenarios import pacing
from harness.scenarios.pool import ArrivalUser

log = logging.getLogger("harness.scenarios")

_IDLE_STATES = (STATE_INIT, STATE_STOPPED)  # no test running: the next start begins a new one


def install(environment, events) -> ArrivalRuntime:
    """Raises HarnessError on a bad arrival option (the caller prints it and exits 2)."""
    runner = environment.runner
    options = environment.parsed_options
    runtime = ArrivalRuntime(environment, plan_from_options(options))
    attach(environment, runtime)
    role = role_of(runner)
    if role.runs_users:
        runner.register_message(MESSAGE, runtime.on_message)
    if role is Role.WORKER:
        runner.send_message(HELLO, None)
    elif role is Role.MASTER:
        runner.register_message(HELLO, runtime.on_hello)
    events.test_start.add_listener(runtime.on_any_test_start)
    events.test_stopping.add_listener(runtime.on_test_stopping)
    if role is Role.WORKER:
        return runtime  # a worker spawns whatever class the master names: it keeps them all

    users_model_classes = [cls for cls in environment.user_classes if cls is not ArrivalUser] or [
        cls for cls in (environment.available_user_classes or {}).values() if cls is not ArrivalUser
    ]

    def choose_classes(plan: LoadPlan) -> None:
        chosen = [ArrivalUser] if plan.load_model == "arrival" else users_model_classes
        environment.user_classes[:] = chosen

    choose_classes(runtime.plan)
    original_start = runner.start

    def start(user_count, spawn_rate, wait=False, user_classes=None):
        if runner.state in _IDLE_STATES:  # a new test: the web UI may have changed the options
            try:
                plan = plan_from_options(options)
            except HarnessError as exc:
                log.error("not started: %s", exc)
                return None
            choose_classes(plan)
            runtime.on_test_start(plan)
        pacing.set_total(options, environment.user_classes, user_count)
        return original_start(user_count, spawn_rate, wait=wait, user_classes=user_classes)

    runner.start = start
    events.spawning_complete.add_listener(lambda **_kw: runtime.on_spawning_complete())
    return runtime

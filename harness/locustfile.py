"""The harness's scenarios. Run with ``locust -f harness/locustfile.py`` (headless or web UI) or
through ``harness run``. Every request streams into InfluxDB through ``harness.listener``.

Two load models: without a rate, Locust's users model (AuthUser, GenerationUser, PaymentUser by
weight); with ``--rate API=PER_S`` (or ``--rate-profile``), the arrival model: iterations start
at that rate and ``--users`` pool users (ArrivalUser) serve them."""

import os
import sys

# Plain ``locust -f harness/locustfile.py`` from a checkout puts harness/ on sys.path, not the
# project root; make the package importable either way.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from locust import events

import harness.listener  # noqa: F401  (registers the InfluxDB listener)
from harness.errors import HarnessError

try:
    from harness.scenarios.auth import AuthUser  # noqa: F401
    from harness.scenarios.generation import GenerationUser  # noqa: F401
    from harness.scenarios.payments import PaymentUser  # noqa: F401
    from harness.scenarios.pool import ArrivalUser  # noqa: F401
except HarnessError as exc:  # a bad knob in the environment: one line, not a traceback
    sys.stderr.write(f"harness: error: {exc}\n")
    sys.exit(2)

from harness.arrivals import runtime as arrivals
from harness.scenarios import wiring


@events.init_command_line_parser.add_listener
def _arrival_options(parser, **_kwargs):
    arrivals.add_arguments(parser)


@events.init.add_listener
def _load_model(environment, **_kwargs):
    if environment.parsed_options is None:  # a library user's own Environment
        return
    try:
        wiring.install(environment, events)
    except HarnessError as exc:
        sys.stderr.write(f"harness: error: {exc}\n")
        sys.exit(2)

"""The harness's scenarios. Run with ``locust -f harness/locustfile.py`` (headless or web UI) or
through ``harness run``. Every request streams into InfluxDB through ``harness.listener``."""

import os
import sys

# Plain ``locust -f harness/locustfile.py`` from a checkout puts harness/ on sys.path, not the
# project root; make the package importable either way.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from locust import events  # noqa: E402

import harness.listener  # noqa: E402,F401  (registers the InfluxDB listener)
from harness.errors import HarnessError  # noqa: E402

try:
    from harness.scenarios.auth import AuthUser  # noqa: E402,F401
    from harness.scenarios.generation import GenerationUser  # noqa: E402,F401
    from harness.scenarios.payments import PaymentUser  # noqa: E402,F401
except HarnessError as exc:  # a bad knob in the environment: one line, not a traceback
    sys.stderr.write(f"harness: error: {exc}\n")
    sys.exit(2)

from harness.scenarios import pacing  # noqa: E402


@events.init.add_listener
def _share_generation_user_count(environment, **_kwargs):
    runner = environment.runner
    kind = type(runner).__name__
    if kind == "WorkerRunner":
        runner.register_message(pacing.MESSAGE, pacing.on_master_message)
    elif kind == "MasterRunner":
        @events.spawning_complete.add_listener
        def _(user_count, **_kw):
            total = runner.target_user_classes_count.get("GenerationUser", 0)
            runner.send_message(pacing.MESSAGE, total)

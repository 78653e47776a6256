"""The harness's locustfile for bench/bench_arrivals.py, against bench/static_target.py.

Everything of the arrival model is the harness's own (plan, split, schedulers, pool, listener);
only the iteration is one ``GET /health`` and the pool users skip signing in, because the static
target answers bodiless requests only — so the benchmark measures the load generator, not a target.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.locustfile import ArrivalUser, AuthUser, GenerationUser, PaymentUser  # noqa: F401
from harness.scenarios import base, iterations


def _health(user, _number: int) -> None:
    user.client.get("/health", name="/health")


iterations.ITERATIONS["auth"] = _health
base.ApiUser.on_start = lambda self: None  # type: ignore[method-assign]  # the bench's point

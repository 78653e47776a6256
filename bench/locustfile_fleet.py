"""bench_fleet.py's workers: no HTTP, each user fires request events at its maximum rate (8
endpoints, lognormal times, 2 % failures) into Locust and the listener."""

import math
import random
import time
from types import SimpleNamespace

import gevent
from locust import User, constant, task

import harness.listener  # noqa: F401

ENDPOINTS = [
    ("GET", "/health", 3.0),
    ("POST", "/api/v1/auth/login", 40.0),
    ("POST", "/api/v1/generations", 120.0),
    ("GET", "/api/v1/generations/[id]", 15.0),
    ("GET", "/api/v1/generations", 30.0),
    ("POST", "/api/v1/payments", 80.0),
    ("GET", "/api/v1/payments", 25.0),
    ("POST", "/api/v1/auth/register", 60.0),
]
OK, ERROR = SimpleNamespace(status_code=200), SimpleNamespace(status_code=500)
FAILED = RuntimeError("500 Server Error: INTERNAL SERVER ERROR")


class Fire(User):
    wait_time = constant(0)

    @task
    def fire(self):
        fire = self.environment.events.request.fire
        rng = random.random
        for i in range(200):
            method, name, median = ENDPOINTS[i % 8]
            failed = rng() < 0.02
            fire(
                request_type=method,
                name=name,
                response_time=median * math.exp(0.6 * (rng() - 0.5) * 3),
                response_length=100,
                exception=FAILED if failed else None,
                start_time=time.time(),
                response=ERROR if failed else OK,
                context={},
            )
        gevent.sleep(0)  # let the flusher and Locust's reports run

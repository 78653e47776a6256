"""bench_abort.py's load: paced users spreading their requests over the scenarios' eight
endpoints (against bench/static_target.py), with the listener loaded. The endpoints matter: a
live check's queries group by endpoint and API, so their cost grows with them."""

import os
import random

from locust import FastHttpUser, constant_throughput, task

import harness.listener  # noqa: F401

# (method, name) as bench_check.py's endpoints; the static target answers a bodiless POST too.
ENDPOINTS = [
    ("GET", "/health"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/generations"),
    ("GET", "/api/v1/generations/[id]"),
    ("GET", "/api/v1/generations"),
    ("POST", "/api/v1/payments"),
    ("GET", "/api/v1/payments"),
]


class Paced(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("BENCH_USER_RATE", "10")))

    @task
    def request(self):
        method, name = random.choice(ENDPOINTS)
        self.client.request(method, "/health", name=name)

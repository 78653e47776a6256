"""A user's own locustfile (tests/test_own_api.py): endpoint names and API groups of its own,
streamed with the harness's one-line import. The group of a request is its ``context["api"]``."""

from locust import HttpUser, constant, task

import harness.listener  # noqa: F401


class Shopper(HttpUser):
    wait_time = constant(0.05)

    @task(2)
    def status(self):
        self.client.get("/health", name="GET status", context={"api": "ops"})

    @task
    def catalog(self):
        self.client.get("/health", name="/catalog/[id]", context={"api": "catalog"})

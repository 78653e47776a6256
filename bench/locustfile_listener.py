"""bench_listener.py's measured variant: the same user as locustfile_plain.py, plus the listener."""

import os

from locust import FastHttpUser, HttpUser, constant, task

import harness.listener  # noqa: F401  (the only difference from locustfile_plain.py)


# bench_listener.py --user-class http: the same test with requests-based HttpUser.
UserClass = HttpUser if os.environ.get("BENCH_USER_CLASS") == "http" else FastHttpUser


class Get(UserClass):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")

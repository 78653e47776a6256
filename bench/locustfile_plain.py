"""bench_listener.py's baseline: one user class, no wait, one GET — and no InfluxDB listener."""

import os

from locust import FastHttpUser, HttpUser, constant, task

# bench_listener.py --user-class http: the same test with requests-based HttpUser.
UserClass = HttpUser if os.environ.get("BENCH_USER_CLASS") == "http" else FastHttpUser


class Get(UserClass):  # type: ignore[valid-type,misc]  # the class is chosen at run time
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")

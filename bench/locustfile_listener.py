"""bench_listener.py's measured variant: the same user as locustfile_plain.py, plus the listener."""

import os

from locust import FastHttpUser, HttpUser, constant, task

import harness.listener  # noqa: F401  (the only difference from locustfile_plain.py)

if os.environ.get("BENCH_LISTENER_MODE") == "noop":  # experiment: everything but the formatting
    from harness.listener.recorder import RequestRecorder

    def _count_only(self, *args):
        self.seen += 1
        return 0

    RequestRecorder.record = _count_only  # type: ignore[method-assign]  # the bench's point
elif os.environ.get("BENCH_LISTENER_MODE") == "nosend":  # experiment: format, never send
    from harness.influx.writer import BatchWriter

    def _discard(self):
        self._seal()
        self.pending.clear()
        self.pending_points = 0
        return True

    BatchWriter.flush = _discard  # type: ignore[method-assign]  # the bench's point


# bench_listener.py --user-class http: the same test with requests-based HttpUser.
UserClass = HttpUser if os.environ.get("BENCH_USER_CLASS") == "http" else FastHttpUser


class Get(UserClass):  # type: ignore[valid-type,misc]  # the class is chosen at run time
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")

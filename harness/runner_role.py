"""A Locust process's role, from Locust's own runner classes: the one place a runner's type is
looked at. Code asks what a role does (``drives_test``, ``runs_users``) rather than comparing names."""

from __future__ import annotations

from enum import Enum

from locust.runners import MasterRunner, WorkerRunner


class Role(str, Enum):
    MASTER = "master"
    WORKER = "worker"
    LOCAL = "local"  # a local runner (one process runs the whole test), or no runner yet

    @property
    def drives_test(self) -> bool:
        """Master or local runner: makes the run id, writes the run's events, runs the live checks."""
        return self is not Role.WORKER

    @property
    def runs_users(self) -> bool:
        """Worker or local runner: runs users and records their requests."""
        return self is not Role.MASTER


def role_of(runner) -> Role:
    if isinstance(runner, MasterRunner):
        return Role.MASTER
    if isinstance(runner, WorkerRunner):
        return Role.WORKER
    return Role.LOCAL

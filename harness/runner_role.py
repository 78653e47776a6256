"""A Locust process's role, from Locust's own runner classes."""

from __future__ import annotations

from locust.runners import MasterRunner, WorkerRunner


def role_of(runner) -> str:
    """"master", "worker", or "local" (a local runner, or no runner yet)."""
    if isinstance(runner, MasterRunner):
        return "master"
    if isinstance(runner, WorkerRunner):
        return "worker"
    return "local"

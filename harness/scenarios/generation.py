"""Generation API: create an asynchronous task, poll it to completion (bounded), list tasks.

The request functions take any signed-in user (``client`` and ``auth_headers``), so the users
model's GenerationUser and the arrival model's iterations (harness/scenarios/iterations.py)
send exactly the same requests.

In the users model throughput is paced to a total target across all users and workers
(GENERATION_TARGET_PER_S); the achieved rate is what the verdict measures from the stored
create requests."""

from __future__ import annotations

import random
import time

import gevent
from locust import task

from harness.scenarios import config
from harness.scenarios.base import ApiUser
from harness.scenarios.pacing import paced_wait, total_generation_users

DONE = {"completed", "failed"}
LIST_EVERY = 2


def create_generation(user) -> str | None:
    """POST a generation task; its id, or None when the create failed."""
    with user.client.post(
        "/api/v1/generations",
        name="/api/v1/generations",
        headers=user.auth_headers,
        json={"prompt": "a lighthouse at dusk, oil on canvas", "model": "sandbox-1", "params": {"steps": 20}},
        catch_response=True,
    ) as response:
        if response.status_code != 202:
            response.failure(f"create answered {response.status_code}")
            return None
        return response.json().get("task_id")


def poll_generation(user, task_id: str) -> None:
    for attempt in range(1, config.MAX_POLLS + 1):
        gevent.sleep(config.POLL_INTERVAL_S)
        with user.client.get(
            f"/api/v1/generations/{task_id}",
            name="/api/v1/generations/[id]",
            headers=user.auth_headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status answered {response.status_code}")
                return
            status = response.json().get("status")
            if status == "failed":
                response.failure("generation failed")
                return
            if status in DONE:
                return
            if attempt == config.MAX_POLLS:
                response.failure(f"generation not done after {config.MAX_POLLS} polls")


def list_generations(user) -> None:
    user.client.get(
        "/api/v1/generations?page=1&per_page=20", name="/api/v1/generations", headers=user.auth_headers
    )


class GenerationUser(ApiUser):
    weight = config.GENERATION_WEIGHT

    def on_start(self) -> None:
        super().on_start()
        # Start at a random point of this user's interval: users spawned together would
        # otherwise create in lockstep bursts, a load no real client population makes, and a
        # rate measured over a short window would depend on where the bursts fall.
        if config.GENERATION_TARGET_PER_S > 0:
            gevent.sleep(
                random.uniform(
                    0,
                    total_generation_users(self.environment, type(self).__name__)
                    / config.GENERATION_TARGET_PER_S,
                )
            )
        self._paced_last = time.monotonic()

    def wait_time(self) -> float:
        return paced_wait(self, config.GENERATION_TARGET_PER_S)

    @task
    def generate(self) -> None:
        # The only task, so every paced iteration is one generation and the target holds;
        # listing rides along every LIST_EVERY generations.
        self._generations = getattr(self, "_generations", 0) + 1
        if self._generations % LIST_EVERY == 0:
            list_generations(self)
        task_id = create_generation(self)
        if task_id is not None:
            poll_generation(self, task_id)

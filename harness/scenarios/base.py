"""What every scenario user shares: an account (seeded or self-registered) and a bearer token."""

from __future__ import annotations

import itertools
import os
import uuid

from locust import FastHttpUser

from harness.scenarios import config

_feeder = None
_counter = itertools.count()


def _seeded_credentials() -> tuple[str, str] | None:
    """Next seeded account when a seed manifest is given (SEED_MANIFEST), else None."""
    global _feeder
    if not config.SEED_MANIFEST:
        return None
    if _feeder is None:
        from seed.feeder import CredentialFeeder, load_credentials

        _feeder = CredentialFeeder(load_credentials(config.SEED_MANIFEST))
    return _feeder.next()


class ApiUser(FastHttpUser):
    abstract = True
    auth_headers: dict[str, str] = {}
    credentials: tuple[str, str] | None = None  # this user's account, once signed in

    def on_start(self) -> None:
        credentials = _seeded_credentials()
        if credentials is None:
            credentials = self.register()
        if credentials:
            self.credentials = credentials
            self.login(*credentials)

    def register(self) -> tuple[str, str] | None:
        # Unique per process and user, and under the reserved .invalid domain so it can never
        # be somebody's real address.
        email = f"lt-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:8]}@loadtest.invalid"
        password = "load-test-" + uuid.uuid4().hex[:12]
        with self.client.post(
            "/api/v1/auth/register",
            name="/api/v1/auth/register",
            json={"email": email, "password": password, "name": "Load Test User"},
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"register answered {response.status_code}")
                return None
        return email, password

    def login(self, email: str, password: str) -> bool:
        with self.client.post(
            "/api/v1/auth/login",
            name="/api/v1/auth/login",
            json={"email": email, "password": password},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"login answered {response.status_code}")
                return False
            token = response.json().get("access_token", "")
        self.auth_headers = {"Authorization": f"Bearer {token}"}
        return True

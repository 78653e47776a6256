"""Auth API: health, login, register."""

from __future__ import annotations

from locust import between, task

from harness.scenarios import config
from harness.scenarios.base import ApiUser


def get_health(user) -> None:
    user.client.get("/health", name="/health")


class AuthUser(ApiUser):
    weight = config.AUTH_WEIGHT
    wait_time = between(0.2, 0.6)

    @task(1)
    def health(self) -> None:
        get_health(self)

    @task(1)
    def login_again(self) -> None:
        if getattr(self, "_credentials", None):
            self.login(*self._credentials)

    @task(1)
    def register_and_login(self) -> None:
        credentials = self.register()
        if credentials:
            self._credentials = credentials
            self.login(*credentials)

"""Payments API: create a payment, list payments."""

from __future__ import annotations

import random

from locust import between, task

from harness.scenarios import config
from harness.scenarios.base import ApiUser

METHODS = ("card", "paypal", "bank_transfer")
CURRENCIES = ("EUR", "USD", "GBP")


def post_payment(user) -> None:
    user.client.post(
        "/api/v1/payments",
        name="/api/v1/payments",
        headers=user.auth_headers,
        json={
            "amount": round(random.uniform(1, 500), 2),
            "currency": random.choice(CURRENCIES),
            "method": random.choice(METHODS),
        },
    )


def get_payments(user) -> None:
    user.client.get("/api/v1/payments?page=1&per_page=20", name="/api/v1/payments", headers=user.auth_headers)


class PaymentUser(ApiUser):
    weight = config.PAYMENT_WEIGHT
    wait_time = between(0.2, 0.6)

    @task(2)
    def create_payment(self) -> None:
        post_payment(self)

    @task(1)
    def list_payments(self) -> None:
        get_payments(self)

"""One iteration of each API's scenario in the arrival model: the same requests as the users
model, starting with the API's key request (harness.arrivals.plan.KEY_REQUEST), so every started
iteration is one stored key request."""

from __future__ import annotations

from collections.abc import Callable

from harness.arrivals.plan import KEY_REQUEST
from harness.scenarios.auth import get_health
from harness.scenarios.generation import LIST_EVERY, create_generation, list_generations, poll_generation
from harness.scenarios.payments import get_payments, post_payment


def generation(user, number: int) -> None:
    task_id = create_generation(user)
    if task_id is not None:
        poll_generation(user, task_id)
    if number % LIST_EVERY == 0:
        list_generations(user)


def payments(user, number: int) -> None:
    post_payment(user)
    if number % 2 == 0:
        get_payments(user)


def auth(user, number: int) -> None:
    if user.credentials:
        user.login(*user.credentials)
    else:  # signing in at start failed: a login attempt is still this iteration's key request
        user.login("nobody@loadtest.invalid", "wrong")
    if number % 2 == 0:
        get_health(user)


ITERATIONS: dict[str, Callable[[object, int], None]] = {
    "auth": auth,
    "generation": generation,
    "payments": payments,
}
assert set(ITERATIONS) == set(KEY_REQUEST)

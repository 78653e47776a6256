"""Synthetic user records, made by Faker from a seed: the same seed and run id give the same
records, so a failing test can be replayed with exactly the data it had."""

from __future__ import annotations

from dataclasses import dataclass

from seed.markers import user_email, user_name, validate_run_id

PLANS: tuple[str, ...] = ("free", "basic", "pro", "enterprise")
# A plausible mix: most accounts are free or basic, few are enterprise.
PLAN_WEIGHTS: tuple[int, ...] = (40, 30, 20, 10)
# How many subscriptions a user gets: mostly one, some two or three.
SUBSCRIPTION_COUNTS: tuple[int, ...] = (1, 2, 3)
SUBSCRIPTION_COUNT_WEIGHTS: tuple[int, ...] = (70, 25, 5)
PASSWORD_LENGTH = 16  # the target wants >= 8


@dataclass(frozen=True)
class UserSpec:
    """A user the seeder will create: everything but the ids the target assigns."""

    n: int  # 1-based position; part of the e-mail, so it is unique within the run
    email: str
    password: str
    name: str
    plans: tuple[str, ...]


def generate_users(run_id: str, count: int, seed: int) -> list[UserSpec]:
    """count users for run_id. The first k users do not depend on count, so seeding 10 and
    seeding 1,000 with the same seed share their first 10 users."""
    validate_run_id(run_id)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    # Faker loads here, not at import: every Locust process imports seed (through the run id
    # rule, harness.runid), and only seeding needs Faker (a fifth of a second to import).
    from faker import Faker

    fake = Faker("en_US")
    # A string seed mixes in the run id, so two runs with the default seed still get
    # different passwords; str seeds hash the same in every process (no PYTHONHASHSEED).
    fake.seed_instance(f"{seed}:{run_id}")
    rng = fake.random
    users = []
    for n in range(1, count + 1):
        name = user_name(run_id, fake.name())
        password = fake.password(length=PASSWORD_LENGTH)
        (how_many,) = rng.choices(SUBSCRIPTION_COUNTS, weights=SUBSCRIPTION_COUNT_WEIGHTS)
        plans = tuple(rng.choices(PLANS, weights=PLAN_WEIGHTS, k=how_many))
        users.append(UserSpec(n, user_email(run_id, n), password, name, plans))
    return users

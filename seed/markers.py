"""The run-scoped marker every seeded record carries, and the check that a record has it.

The marker is what makes load-test data recognisable in a shared environment and what keeps
it from colliding with real data: e-mails live under the reserved ``.invalid`` top-level
domain (RFC 2606 — no real mailbox can have one), and both e-mail and name carry the run id.
"""

from __future__ import annotations

import re

from harness.runid import validate_run_id  # noqa: F401  (one rule for run ids, re-exported)

DOMAIN = "loadtest.invalid"
PREFIX = "lt"

def user_email(run_id: str, n: int) -> str:
    return f"{PREFIX}-{run_id}-{n}@{DOMAIN}"


def user_name(run_id: str, faker_name: str) -> str:
    return f"[{PREFIX}-{run_id}] {faker_name}"


def is_marked_email(run_id: str, email: str) -> bool:
    """True when email is one this run's seeder makes: the guard before cleanup deletes it."""
    pattern = rf"{re.escape(PREFIX)}-{re.escape(run_id)}-[0-9]+@{re.escape(DOMAIN)}"
    return re.fullmatch(pattern, email, flags=re.IGNORECASE) is not None

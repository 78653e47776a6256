"""The run-scoped marker every seeded record carries, and the check that a record has it.

The marker is what makes load-test data recognisable in a shared environment and what keeps
it from colliding with real data: e-mails live under the reserved ``.invalid`` top-level
domain (RFC 2606 — no real mailbox can have one), and both e-mail and name carry the run id.
"""

from __future__ import annotations

import re

from harness.errors import HarnessError

DOMAIN = "loadtest.invalid"
PREFIX = "lt"

# Letters, digits, '.', '-' and '_' keep the e-mail local part valid without quoting (no
# leading or doubled dot); 48 chars keep it under the 64 an address allows once "lt-" and
# "-<n>" are added. harness.runid makes ids like 20261125T081530Z-3fa2c1, which fit.
_RUN_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.)){0,47}$")


def validate_run_id(run_id: str) -> str:
    """Return run_id unchanged, or raise HarnessError naming the bad value."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or run_id.endswith("."):
        raise HarnessError(
            f"run id {run_id!r} is not usable in an e-mail address: use 1-48 letters, "
            "digits, '.', '-' or '_', starting with a letter or digit"
        )
    return run_id


def user_email(run_id: str, n: int) -> str:
    return f"{PREFIX}-{run_id}-{n}@{DOMAIN}"


def user_name(run_id: str, faker_name: str) -> str:
    return f"[{PREFIX}-{run_id}] {faker_name}"


def is_marked_email(run_id: str, email: str) -> bool:
    """True when email is one this run's seeder makes: the guard before cleanup deletes it."""
    pattern = rf"{re.escape(PREFIX)}-{re.escape(run_id)}-[0-9]+@{re.escape(DOMAIN)}"
    return re.fullmatch(pattern, email, flags=re.IGNORECASE) is not None

"""The run-scoped marker every seeded record carries, and the check that a record has it.

The marker is what makes load-test data recognisable in a shared environment and what keeps
it from colliding with real data: e-mails live under the reserved ``.invalid`` top-level
domain (RFC 2606 — no real mailbox can have one), and both e-mail and name carry the run id.
"""

from __future__ import annotations

import re

from seed.errors import SeedError

DOMAIN = "loadtest.invalid"
PREFIX = "lt"

# Letters, digits, '.', '-' and '_' (no leading, doubled or trailing dot), at most 48: the marker
# goes into e-mail addresses (lt-<run id>-<n>@loadtest.invalid), whose local part must stay under
# 64 characters. The harness's run ids follow this rule (harness.runid), as they become markers.
_VALID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.)){0,47}$")
RULE = "1-48 letters, digits, '.', '-' or '_', starting with a letter or digit"


def validate_run_id(run_id: str) -> str:
    """The run id as a marker, or SeedError when it cannot be one."""
    if not isinstance(run_id, str) or not _VALID.match(run_id) or run_id.endswith("."):
        raise SeedError(f"run id {run_id!r} is not valid: use {RULE}")
    return run_id


def user_email(run_id: str, n: int) -> str:
    return f"{PREFIX}-{run_id}-{n}@{DOMAIN}"


def user_name(run_id: str, faker_name: str) -> str:
    return f"[{PREFIX}-{run_id}] {faker_name}"


def is_marked_email(run_id: str, email: str) -> bool:
    """True when email is one this run's seeder makes: the guard before cleanup deletes it."""
    pattern = rf"{re.escape(PREFIX)}-{re.escape(run_id)}-[0-9]+@{re.escape(DOMAIN)}"
    return re.fullmatch(pattern, email, flags=re.IGNORECASE) is not None

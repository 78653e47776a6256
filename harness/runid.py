"""Run ids: made once (by the orchestrator, or Locust's master/local runner) and carried to every
worker and every point."""

from __future__ import annotations

import re
import secrets
import time

from harness.errors import HarnessError

# Letters, digits, '.', '-' and '_' (no leading, doubled or trailing dot), at most 48: a run id
# becomes a tag value, a file name, and the marker in seeded e-mail addresses
# (lt-<run id>-<n>@loadtest.invalid), whose local part must stay under 64 characters.
_VALID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.)){0,47}$")


def new_run_id() -> str:
    """Sortable by time and unique across machines: ``20261125T081530Z-3fa2c1``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def validate_run_id(run_id: str) -> str:
    """Run ids become tag values and file names: keep them to a safe alphabet."""
    if not isinstance(run_id, str) or not _VALID.match(run_id) or run_id.endswith("."):
        raise HarnessError(f"run id {run_id!r} is not valid: use 1-48 letters, digits, '.', '-' or '_', "
                           "starting with a letter or digit")
    return run_id

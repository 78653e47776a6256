"""Run ids: made once (by the orchestrator, or Locust's master/local runner) and carried to every
worker and every point."""

from __future__ import annotations

import re
import secrets
import time

_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def new_run_id() -> str:
    """Sortable by time and unique across machines: ``20261125T081530Z-3fa2c1``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def validate_run_id(run_id: str) -> str:
    """Run ids become tag values and file names: keep them to a safe alphabet."""
    if not _VALID.match(run_id):
        from harness.errors import HarnessError
        raise HarnessError(f"--run-id: {run_id!r} is not a valid run id (letters, digits, . _ : -; at most 128)")
    return run_id

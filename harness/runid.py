"""Run ids: made once (by the orchestrator, or Locust's master/local runner) and carried to every
worker and every point."""

from __future__ import annotations

import secrets
import time

from harness.errors import HarnessError
from seed import markers
from seed.errors import SeedError

RUN_ID_RULE = markers.RULE


def new_run_id() -> str:
    """Sortable by time and unique across machines: ``20261125T081530Z-3fa2c1``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def validate_run_id(run_id: str) -> str:
    """Run ids become tag values, file names and the marker of seeded records: the marker's rule
    (seed.markers: a safe alphabet, at most 48 characters) is the strictest of the three."""
    try:
        return markers.validate_run_id(run_id)
    except SeedError as exc:
        raise HarnessError(str(exc)) from None

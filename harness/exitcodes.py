"""Exit statuses of every harness command, in one place (documented in docs/guide.md)."""

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0  # the run met every threshold, with complete data
    FAIL = 1  # at least one threshold was breached
    ERROR = 2  # bad input, unreachable service, or a verdict that is inconclusive

"""``python -m harness.sandbox``: the same server as ``harness sandbox``, for child processes."""

from __future__ import annotations

import argparse
import sys

from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.sandbox.cli import DESCRIPTION, add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sandbox", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(run(args))
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return ExitCode.ERROR


if __name__ == "__main__":
    sys.exit(main())

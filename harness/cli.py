"""``harness`` entry point: dispatch to sub-commands, turn HarnessError (and SeedError) into one line."""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__
from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from seed.errors import SeedError

# Sub-command modules under harness.commands; each has register(subparsers).
COMMANDS = ["run", "check", "report", "history", "preflight", "flush", "influxdb", "sandbox", "seed", "settings"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return ExitCode.ERROR
    try:
        return int(args.func(args))
    except (HarnessError, SeedError) as exc:  # seed, a package of its own, has its own error type
        print(f"harness: error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m harness.cli
    sys.exit(main())

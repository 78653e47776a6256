"""``harness`` entry point: dispatch to sub-commands, turn HarnessError (and SeedError) into one line."""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from harness import __version__
from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from seed.errors import SeedError

# Sub-command modules under harness.commands; each has register(subparsers).
COMMANDS = [
    "run",
    "check",
    "report",
    "history",
    "preflight",
    "flush",
    "influxdb",
    "sandbox",
    "seed",
    "settings",
]
# Names a command module registers besides its own (``seed`` also registers ``cleanup``).
ALSO_REGISTERS = {"cleanup": "seed"}


def command_module(name: str) -> ModuleType:
    """The module of one sub-command, imported only when that command runs: importing every
    command (and so the verdict, numpy, scipy, Locust) cost ``harness check`` 0.45 s. Plain
    import statements, so import-linter sees the CLI's edges."""
    module: ModuleType
    if name == "run":
        from harness.commands import run as module
    elif name == "check":
        from harness.commands import check as module
    elif name == "report":
        from harness.commands import report as module
    elif name == "history":
        from harness.commands import history as module
    elif name == "preflight":
        from harness.commands import preflight as module
    elif name == "flush":
        from harness.commands import flush as module
    elif name == "influxdb":
        from harness.commands import influxdb as module
    elif name == "sandbox":
        from harness.commands import sandbox as module
    elif name == "seed":
        from harness.commands import seed as module
    elif name == "settings":
        from harness.commands import settings as module
    else:
        raise KeyError(name)
    return module


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or, given the command about to run, with only that one's
    options (the others are listed by name, so a typo still gets argparse's choices)."""
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    module_name = ALSO_REGISTERS.get(command, command) if command else None
    if module_name not in COMMANDS:
        module_name = None
    for name in COMMANDS:
        if module_name is None or name == module_name:
            command_module(name).register(subparsers)
    if module_name is not None:
        registered = set(subparsers.choices)
        for name in [*COMMANDS, *ALSO_REGISTERS]:
            if name not in registered:
                subparsers.add_parser(name)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    parser = build_parser(args_in[0] if args_in and not args_in[0].startswith("-") else None)
    args = parser.parse_args(args_in)
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

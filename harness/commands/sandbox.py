"""``harness sandbox``: run the reference API (auth, generation, payments) on loopback."""

from __future__ import annotations

import argparse

from harness.sandbox.cli import DESCRIPTION, HELP, add_arguments, run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)

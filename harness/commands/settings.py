"""``harness settings``: every setting with the value in force here and where it came from, or
(``--markdown``) the reference table of docs/guide.md, made from the one table in harness.settings."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.exitcodes import ExitCode
from harness.settings import COMMANDS, LOCUST, PARAMS, Param, as_text, default_env_file, resolve

_USED_BY_ORDER = (*COMMANDS, LOCUST)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "settings", help="list every setting: value in force, source, where it is taken", description=__doc__
    )
    parser.add_argument(
        "--env-file",
        dest="env_file",
        default=None,
        type=Path,
        metavar="PATH",
        help="KEY=VALUE file of settings (default: .env.load-testing if present)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the reference table (flag, environment variable, default, taken by) as Markdown",
    )
    parser.set_defaults(func=run)


def taken_by(p: Param) -> str:
    return ", ".join(c for c in _USED_BY_ORDER if c in p.used_by)


def markdown_table() -> str:
    """One row per setting; docs/guide.md holds exactly this (tests/test_docs.py)."""
    rows = ["| environment | flag | default | taken by | meaning |", "| --- | --- | --- | --- | --- |"]
    for p in PARAMS:
        flags = ", ".join(f"`{f}`" for f in (p.flag, *p.aliases))
        default = f"`{p.default}`" if p.default else "empty"
        rows.append(f"| `{p.env}` | {flags} | {default} | {taken_by(p)} | {p.help} |")
    return "\n".join(rows) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table(), end="")
        return ExitCode.PASS
    settings = resolve(args, os.environ, default_env_file())
    values = settings.public_dict()
    width = max(len(p.env) for p in PARAMS)
    for p in PARAMS:
        print(
            f"{p.env:<{width}}  {as_text(values[p.env]):<24}  {settings.sources[p.name]:<22}  {taken_by(p)}"
        )
    return ExitCode.PASS

"""The listener's Locust options: the settings the table (harness.settings) marks LOCUST, each with
its environment variable beside it. Locust's parser (ConfigArgParse) reads the variable, so a
Locust started by ``harness run`` and one started by hand take the same settings, parsed and
checked by the same code as the ``harness`` commands."""

from __future__ import annotations

import argparse
import sys

from harness.errors import HarnessError
from harness.settings import LOCUST, Param, bad_value, from_environment, params_for
from harness.verdict import Thresholds, load_thresholds


def add_arguments(parser) -> None:
    # Locust only understands include_in_web_ui on the parser itself, not on argument groups.
    for p in params_for(LOCUST):
        if p.flag in parser._option_string_actions:
            # locust-plugins (which Locust imports when installed) already defines --test-env,
            # with LOCUST_TEST_ENV; test_env() below also honours TEST_ENV.
            continue
        # A switch takes its flag alone (on) or a value (--abort-on-fail=false), as the harness
        # commands do, so the same words work in `harness run`, plain `locust` and the environment.
        kind = (
            {"nargs": "?", "const": True, "type": _converter(p), "default": p.value(p.default)}
            if p.switch
            else {"type": _converter(p), "default": p.default}
        )
        parser.add_argument(
            p.flag, env_var=p.env, help=f"{p.help} [env {p.env}]", include_in_web_ui=p.web_ui, **kind
        )


def _converter(p: Param):
    """argparse's type=: the table's parser, an empty value as the table says, and the table's
    message on a bad value. (argparse also converts the default text with it.)"""

    def convert(text: str):
        try:
            return p.value(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(bad_value(p, text, exc)) from None

    return convert


def test_env(options) -> str:
    """The test environment tag: --test-env, LOCUST_TEST_ENV, TEST_ENV, else its default."""
    return getattr(options, "test_env", "") or from_environment("TEST_ENV")


def thresholds_or_exit(options) -> Thresholds:
    """The limits of --thresholds-file, for a feature that needs them from the start (live checks,
    the verdict): a bad file is one line and exit 2, before a single user starts."""
    try:
        return load_thresholds(options.thresholds_file)
    except HarnessError as exc:
        sys.stderr.write(f"harness.listener: error: {exc}\n")
        sys.exit(2)

"""The docs stay true: every quickstart command runs as written, and every option the docs
name exists in the --help of the command that takes it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from harness.cli import COMMANDS
from tests.helpers import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BIN = Path(sys.executable).parent
# Options of other programs that the docs show in passing.
OTHER_TOOLS = {
    "--profile",
    "--scale",
    "--wait",
    "--builtin-schema",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--dump-dom",
    "--screenshot",
    "--window-size",
    "--user-data-dir",
}


def code_lines(text: str) -> list[str]:
    """Lines of fenced code blocks, and inline `code` spans."""
    lines = []
    in_block = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if in_block or line.startswith("    "):
            lines.append(line.strip())
        else:
            lines += re.findall(r"`([^`]+)`", line)
    return lines


@cache
def help_text(*command: str) -> str:
    proc = subprocess.run(
        [sys.executable, *command, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def harness_help(sub: str) -> str:
    return help_text("-m", "harness.cli", sub)


def locust_help() -> str:
    """Locust's --help does not load the locustfile, so the options harness/locustfile.py adds are
    added from the same parser setup Locust runs: the listener's (harness.listener.options) and
    the arrival model's (harness.arrivals.runtime) and the verdict's (harness.listener.verdict)."""
    listener = help_text(
        "-c",
        "import sys; from locust.argument_parser import get_empty_argument_parser; "
        "from harness.listener.options import add_arguments; "
        "from harness.arrivals.runtime import add_arguments as add_arrivals; "
        "from harness.listener.verdict import add_arguments as add_verdict; "
        "p = get_empty_argument_parser(); add_arguments(p); add_arrivals(p); add_verdict(p); "
        "p.parse_args(sys.argv[1:])",
    )
    return help_text("-m", "locust") + listener


SUBCOMMANDS = [*COMMANDS, "cleanup"]  # harness.commands.seed registers cleanup too


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_option_named_in_the_docs_exists(doc):
    all_help = "\n".join(
        [harness_help(s) for s in SUBCOMMANDS]
        + [
            locust_help(),
            subprocess.run(
                ["bash", "scripts/run_load_tests.sh", "--help"], capture_output=True, text=True, cwd=ROOT
            ).stdout,
        ]
    )
    problems = []
    for line in code_lines(doc.read_text()):
        if re.match(
            r"(influx|docker|kubectl|kustomize|pip|apt-get|chromium|check-jsonschema|curl|ruff|mypy|pytest)\b",
            line,
        ):
            continue  # other programs' command lines; their options are theirs
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", line)) - OTHER_TOOLS
        match = re.search(r"\bharness (\w+)", line)
        script = re.search(r"python\S* (\S+\.py)\b", line)
        if script and (ROOT / script.group(1)).exists():
            scope = help_text(script.group(1))
        elif match and match.group(1) in SUBCOMMANDS:
            scope = harness_help(match.group(1))
        elif re.search(r"\blocust\b", line):
            scope = locust_help()
        else:
            scope = all_help
        problems += [f"{flag} in: {line}" for flag in flags if not re.search(rf"(?<![\w-]){flag}\b", scope)]
    assert not problems, "\n".join(problems)


def quickstart_commands() -> list[tuple[str, int]]:
    """(command, expected exit code) for every line of the quickstart's sh blocks."""
    commands, in_sh = [], False
    for line in (ROOT / "docs" / "quickstart.md").read_text().splitlines():
        if line.startswith("```"):
            in_sh = line.strip() == "```sh"
            continue
        if in_sh and line.strip():
            expected = re.search(r"#\s*exit (\d+)\s*$", line)
            commands.append((line.split("  #")[0].strip(), int(expected.group(1)) if expected else 0))
    return commands


@pytest.mark.influx
@pytest.mark.slow
def test_quickstart_commands_run_as_written(tmp_path):
    commands = quickstart_commands()
    assert commands[0][0] == "make setup"  # run by CI itself: .ci/run → make test → setup
    env = dict(
        os.environ,
        PATH=f"{BIN}:{os.environ['PATH']}",
        HARNESS_STATE_DIR=str(tmp_path / "state"),
        OUT_DIR=str(tmp_path / "reports"),
    )
    env.pop("INFLUX_URL", None)
    try:
        for command, expected in commands[1:]:
            if command.startswith(". .venv/bin/activate"):
                continue  # the test's PATH already puts this interpreter's harness first
            proc = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
            )
            assert proc.returncode == expected, f"{command}\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}"
        assert (tmp_path / "reports" / "first-run" / "verdict.json").exists()
    finally:
        subprocess.run([str(BIN / "harness"), "influxdb", "stop"], env=env, cwd=ROOT, capture_output=True)


def test_the_settings_table_in_the_guide_is_the_one_the_code_makes():
    """docs/guide.md lists the settings exactly as ``harness settings --markdown`` makes them from
    harness.settings.PARAMS: a setting added, renamed or moved to another command shows here."""
    from harness.commands.settings import markdown_table

    text = (ROOT / "docs" / "guide.md").read_text()
    start = text.index("\n", text.index("<!-- settings table:")) + 1
    end = text.index("<!-- end of settings table -->")
    assert text[start:end] == markdown_table(), (
        "run `harness settings --markdown` and paste it into docs/guide.md"
    )

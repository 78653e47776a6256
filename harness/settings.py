"""Run parameters in layers: built-in defaults < ``.env.load-testing`` < environment < flags.

One table (PARAMS) declares every parameter once: its environment variable (also its key in
the env file and, kebab-cased, its flag), its parser, default and help. An empty value in any
layer means "not set" (a blank CI input falls through to the layer below). A bad value is a
HarnessError naming the parameter, where it came from and the value.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from harness.errors import HarnessError
from harness.verdict.thresholds import closest_match

DEFAULT_ENV_FILE = ".env.load-testing"


class _Bad(ValueError):
    """A value a parser rejects; the message says why, after the value."""


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _Bad("is not a whole number") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Bad("is not a number") from None
    if not math.isfinite(value):
        raise _Bad("is not a finite number")
    return value


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", re.IGNORECASE)


def _duration(text: str) -> int:
    """Seconds from Locust's run-time forms: 90, 30s, 5m, 1h30m."""
    if text.isdigit():
        seconds = int(text)
    else:
        match = _DURATION.match(text)
        if not match or not any(match.groups()):
            raise _Bad("is not a duration (use 30s, 5m, 1h30m)")
        hours, minutes, secs = (int(g or 0) for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise _Bad("must be longer than 0 seconds")
    return seconds


def _url(text: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Bad("is not an http(s) URL (e.g. http://127.0.0.1:8080)")
    return text.rstrip("/")


def _url_or_empty(text: str) -> str:
    # Empty on purpose means "start the built-in sandbox"; only a value must be a URL.
    return _url(text) if text else text


def _text(text: str) -> str:
    return text


def _switch(text: str) -> bool:
    value = text.lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise _Bad("is not true or false")


def _at_least(low: float) -> Callable[[float], None]:
    def check(value: float) -> None:
        if value < low:
            raise _Bad(f"must be {low:g} or more")
    return check


def _above(low: float) -> Callable[[float], None]:
    def check(value: float) -> None:
        if value <= low:
            raise _Bad(f"must be more than {low:g}")
    return check


@dataclass(frozen=True)
class Param:
    name: str  # attribute of Settings
    env: str  # environment variable and key in the env file
    parse: Callable[[str], Any]
    default: str  # as it would be written in the env file, parsed like any other value
    help: str
    validate: Callable[[Any], None] | None = None
    secret: bool = False  # never echoed back, not even in errors
    switch: bool = False  # the flag alone means true (--abort-on-fail); a value may still follow

    @property
    def flag(self) -> str:
        return "--" + self.env.lower().replace("_", "-")

    @property
    def dest(self) -> str:
        return self.env.lower()


PARAMS: tuple[Param, ...] = (
    Param("users", "USERS", _whole, "20", "peak number of simulated users", _at_least(1)),
    Param("spawn_rate", "SPAWN_RATE", _number, "10", "users started per second", _above(0)),
    Param("run_time_s", "RUN_TIME", _duration, "1m", "how long to run: 90, 30s, 5m, 1h30m"),
    Param("test_env", "TEST_ENV", _text, "local", "name of the target environment (a tag on every point)"),
    Param("target_host", "TARGET_HOST", _url_or_empty, "", "base URL of the API under test; empty starts the built-in sandbox"),
    Param("influx_url", "INFLUX_URL", _url, "http://127.0.0.1:8086", "InfluxDB base URL"),
    Param("influx_db", "INFLUX_DB", _text, "loadtest", "InfluxDB database (1.x) or bucket mapped to it (2.x/3.x)"),
    Param("influx_token", "INFLUX_TOKEN", _text, "", "InfluxDB 2.x/3.x token; prefer the environment, a flag shows in ps", secret=True),
    Param("influx_user", "INFLUX_USER", _text, "", "InfluxDB 1.x user name"),
    Param("influx_password", "INFLUX_PASSWORD", _text, "", "InfluxDB 1.x password; prefer the environment, a flag shows in ps", secret=True),
    Param("thresholds_file", "THRESHOLDS_FILE", Path, "baselines.yaml", "limits the verdict checks"),
    Param("out_dir", "OUT_DIR", Path, "load_test_reports", "folder for verdict.json, junit.xml, summary.md and reports"),
    Param("generation_target_per_s", "GENERATION_TARGET_PER_S", _number, "10", "generations per second the run aims at", _at_least(0)),
    Param("seed_users", "SEED_USERS", _whole, "0", "test users to create before the run", _at_least(0)),
    Param("processes", "PROCESSES", _whole, "1", "Locust worker processes on this machine", _at_least(1)),
    Param("description", "DESCRIPTION", _text, "", "free text stored with the run"),
    Param("grafana_url", "GRAFANA_URL", _url_or_empty, "",
          "Grafana base URL; when set, harness run prints the live dashboard's address"),
    Param("abort_on_fail", "ABORT_ON_FAIL", _switch, "false",
          "stop the run early when a limit fails over the trailing window (baselines.yaml 'abort:')",
          switch=True),
)
_BY_ENV = {p.env: p for p in PARAMS}


@dataclass(frozen=True)
class Settings:
    users: int
    spawn_rate: float
    run_time_s: int
    test_env: str
    target_host: str
    influx_url: str
    influx_db: str
    influx_token: str = field(repr=False)
    influx_user: str
    influx_password: str = field(repr=False)
    thresholds_file: Path
    out_dir: Path
    generation_target_per_s: float
    seed_users: int
    processes: int
    description: str
    grafana_url: str
    abort_on_fail: bool
    # Where each value came from: "default", "flag", "environment" or "FILE:LINE".
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def public_dict(self) -> dict[str, Any]:
        """Every parameter by env name, secrets masked: safe to log or store with the run."""
        out = {}
        for p in PARAMS:
            value = getattr(self, p.name)
            out[p.env] = ("***" if value else "") if p.secret else (
                str(value) if isinstance(value, Path) else value)
        return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--kebab-case`` flag per parameter; default None so "not given" is not a value."""
    group = parser.add_argument_group("run settings (flag > environment > env file > default)")
    group.add_argument("--env-file", dest="env_file", default=None, type=Path, metavar="PATH",
                       help=f"KEY=VALUE file of settings (default: {DEFAULT_ENV_FILE} if present)")
    for p in PARAMS:
        shown = "" if p.secret else f", default: {p.default or 'empty'}"
        switch = {"nargs": "?", "const": "true"} if p.switch else {}
        group.add_argument(p.flag, dest=p.dest, default=None, metavar=p.env,
                           help=f"{p.help} (env {p.env}{shown})", **switch)


def default_env_file(directory: Path | None = None) -> Path | None:
    """``.env.load-testing`` in ``directory`` (default: the working directory) if it exists."""
    path = Path(directory or ".") / DEFAULT_ENV_FILE
    return path if path.is_file() else None


def resolve(args: argparse.Namespace | None, environ: Mapping[str, str],
            env_file: Path | None) -> Settings:
    """Settings from defaults < env file < environment (known keys only) < flags.

    ``args.env_file`` (the --env-file flag), when given, replaces ``env_file``.
    """
    flag_file = getattr(args, "env_file", None) if args is not None else None
    env_file = flag_file or env_file
    layers: list[tuple[dict[str, tuple[str, str]], bool]] = [
        ({p.env: (p.default, "default") for p in PARAMS}, False),
        (read_env_file(env_file) if env_file is not None else {}, True),
        ({p.env: (environ[p.env], "environment") for p in PARAMS if p.env in environ}, True),
        ({p.env: (getattr(args, p.dest), "flag") for p in PARAMS
          if args is not None and getattr(args, p.dest, None) is not None}, True),
    ]
    chosen: dict[str, tuple[str, str]] = {}
    for layer, blank_is_unset in layers:
        for env, (text, source) in layer.items():
            if text.strip() or not blank_is_unset:
                chosen[env] = (text.strip(), source)
    values = {p.name: _parse(p, *chosen[p.env]) for p in PARAMS}
    return Settings(**values, sources={p.name: chosen[p.env][1] for p in PARAMS})


def _parse(p: Param, text: str, source: str) -> Any:
    try:
        value = p.parse(text)
        if p.validate is not None:
            p.validate(value)
        return value
    except _Bad as exc:
        where = {"flag": p.flag, "environment": f"{p.env} from the environment",
                 "default": f"{p.env} built-in default"}.get(source, f"{p.env} from {source}")
        shown = "(hidden)" if p.secret else repr(text)
        raise HarnessError(f"{where}: {shown} {exc}") from None


_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def read_env_file(path: Path) -> dict[str, tuple[str, str]]:
    """KEY=VALUE lines → {KEY: (value, "FILE:LINE")}; # comments and quotes as in a shell."""
    shown = _shown_path(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise HarnessError(f"{shown}: settings file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{shown}: cannot read settings file ({exc})") from None
    found: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{shown}:{number}"
        match = _LINE.match(line)
        if not match:
            raise HarnessError(f"{where}: expected KEY=VALUE, got {line!r}")
        key, rest = match.groups()
        if key not in _BY_ENV:
            close = closest_match(key, list(_BY_ENV))
            hint = f" (did you mean '{close}'?)" if close else ""
            raise HarnessError(f"{where}: unknown key '{key}'{hint}")
        if key in found:
            raise HarnessError(f"{where}: {key} is set twice (first at {found[key][1]})")
        found[key] = (_unquote(rest, where, key), where)
    return found


def _unquote(rest: str, where: str, key: str) -> str:
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        if end < 0:
            raise HarnessError(f"{where}: {key} has an opening {rest[0]} but no closing one")
        tail = rest[end + 1:].strip()
        if tail and not tail.startswith("#"):
            raise HarnessError(f"{where}: {key} has text after its closing quote: {tail!r}")
        return rest[1:end]
    # As in a shell, " #" starts a comment; a "#" inside a word (a URL fragment) does not.
    return re.split(r"\s+#", rest, maxsplit=1)[0].strip()


def _shown_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)

"""Every setting, declared once, and how a value is chosen: defaults < ``.env.load-testing`` <
environment < flags.

One table (PARAMS) declares each setting: its environment variable (also its key in the env file
and, kebab-cased, its flag), its parser, default and help, and where it is taken (``used_by``: the
``harness`` commands by name, and ``locust`` for the listener's options in any Locust process).
The commands' options (``add_arguments``), the listener's Locust options
(harness.listener.options), what ``harness run`` hands to Locust (harness.locust_process) and the
table in docs/guide.md (``harness settings --markdown``) are all made from it, so a setting means
the same wherever it is taken. An empty value in any layer means "not set" (a blank CI input falls
through to the layer below), except for a setting whose empty value means something
(``blank_is_value``). A bad value is a HarnessError naming the setting, where it came from and the
value.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.arrivals.plan import ARRIVAL_KINDS, format_rates, load_profile, parse_rates
from harness.durations import parse_duration_s
from harness.errors import HarnessError
from harness.runid import RUN_ID_RULE, validate_run_id
from harness.suggest import closest_match

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


def _duration(text: str) -> int:
    """Seconds from Locust's run-time forms: 90, 30s, 5m, 1h30m."""
    seconds = parse_duration_s(text)
    if seconds is None:
        raise _Bad("is not a duration (use 30s, 5m, 1h30m)")
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


def _rates(text: str) -> str:
    """``generation=10,payments=20`` checked, and written back the same way ("" = no rate)."""
    try:
        return format_rates(parse_rates(text, "rates"))
    except HarnessError as exc:
        raise _Bad(str(exc).removeprefix("rates: ")) from None


def _arrival_kind(text: str) -> str:
    if text not in ARRIVAL_KINDS:
        raise _Bad(f"is not one of {', '.join(ARRIVAL_KINDS)}")
    return text


def _profile_path(text: str) -> str:
    # Only that it names a readable, valid profile; the file is read again where it is used.
    if text:
        try:
            load_profile(text)
        except HarnessError as exc:
            raise _Bad(f"is not a usable rate profile ({exc})") from None
    return text


def _switch(text: str) -> bool:
    # The words Locust's parser (ConfigArgParse) takes for an on/off option in the environment.
    value = text.lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise _Bad("is not true or false")


INFLUX_POINTS = ("requests", "sketches", "both")


def _points(text: str) -> str:
    if text not in INFLUX_POINTS:
        raise _Bad(f"is not one of {', '.join(INFLUX_POINTS)}")
    return text


def _run_id(text: str) -> str:
    if not text:
        return text  # a new one per run (per test in Locust's web UI)
    try:
        return validate_run_id(text)
    except HarnessError:
        raise _Bad(f"is not a valid run id (use {RUN_ID_RULE})") from None


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


# Where a setting is taken: the harness commands by name, and LOCUST: the listener's options in
# every Locust process that imports harness.listener, started by ``harness run`` or by hand.
RUN, CHECK, REPORT, FLUSH, PREFLIGHT, LOCUST = "run", "check", "report", "flush", "preflight", "locust"
HISTORY = "history"
COMMANDS = (RUN, CHECK, REPORT, FLUSH, PREFLIGHT, HISTORY)
INFLUX = (
    RUN,
    CHECK,
    REPORT,
    FLUSH,
    PREFLIGHT,
    HISTORY,
    LOCUST,
)  # how to reach InfluxDB: wherever it is reached


@dataclass(frozen=True)
class Param:
    name: str  # attribute of Settings
    env: str  # environment variable and key in the env file
    parse: Callable[[str], Any]
    default: str  # as it would be written in the env file, parsed like any other value
    help: str
    validate: Callable[[Any], None] | None = None
    secret: bool = False  # never echoed back, not even in errors
    used_by: tuple[str, ...] = (RUN,)  # the commands (and LOCUST) that take it
    aliases: tuple[str, ...] = ()  # older flags kept for scripts (harness flush --spool-dir)
    blank_is_value: bool = False  # "" is a value (INFLUX_RUNS_RP: the default policy), not "not set"
    switch: bool = False  # on/off; the flag alone means on
    flag_name: str = ""  # when the flag is not the kebab-cased env name (--rate for RATES)
    web_ui: bool = False  # also a field of Locust's web UI start form (a LOCUST setting)
    repeatable: bool = False  # a flag given many times; its values join with ","

    @property
    def flag(self) -> str:
        return self.flag_name or "--" + self.env.lower().replace("_", "-")

    @property
    def dest(self) -> str:
        return self.env.lower()

    def value(self, text: str) -> Any:
        """The parsed, checked value of ``text`` (an empty text is the default unless
        ``blank_is_value``); ValueError saying why when it is bad."""
        text = text.strip()
        if not text and not self.blank_is_value:
            text = self.default
        value = self.parse(text)
        if self.validate is not None:
            self.validate(value)
        return value


PARAMS: tuple[Param, ...] = (
    Param("users", "USERS", _whole, "20", "peak number of simulated users", _at_least(1)),
    Param("spawn_rate", "SPAWN_RATE", _number, "10", "users started per second", _above(0)),
    Param("run_time_s", "RUN_TIME", _duration, "1m", "how long to run: 90, 30s, 5m, 1h30m"),
    Param(
        "run_id",
        "RUN_ID",
        _run_id,
        "",
        "the run's id: the one harness run and Locust give a new run (empty: a new, time-sortable one "
        "per run, per test in Locust's web UI), the stored run check and report judge",
        used_by=(RUN, CHECK, REPORT, LOCUST),
    ),
    Param(
        "test_env",
        "TEST_ENV",
        _text,
        "local",
        "name of the target environment (a tag on every point)",
        used_by=(RUN, HISTORY, LOCUST),
    ),
    Param(
        "target_host",
        "TARGET_HOST",
        _url_or_empty,
        "",
        "base URL of the API under test; empty starts the built-in sandbox",
        used_by=(RUN, PREFLIGHT),
    ),
    Param("influx_url", "INFLUX_URL", _url, "http://127.0.0.1:8086", "InfluxDB base URL", used_by=INFLUX),
    Param(
        "influx_db",
        "INFLUX_DB",
        _text,
        "loadtest",
        "InfluxDB database (1.x) or bucket mapped to it (2.x/3.x)",
        used_by=INFLUX,
    ),
    Param(
        "influx_token",
        "INFLUX_TOKEN",
        _text,
        "",
        "InfluxDB 2.x/3.x token; prefer the environment, a flag shows in ps",
        secret=True,
        used_by=INFLUX,
    ),
    Param("influx_user", "INFLUX_USER", _text, "", "InfluxDB 1.x user name", used_by=INFLUX),
    Param(
        "influx_password",
        "INFLUX_PASSWORD",
        _text,
        "",
        "InfluxDB 1.x password; prefer the environment, a flag shows in ps",
        secret=True,
        used_by=INFLUX,
    ),
    Param(
        "influx_runs_rp",
        "INFLUX_RUNS_RP",
        _text,
        "runs",
        "retention policy of the long-lived run data (run, threshold, run_summary, events); "
        "empty: the database's default policy",
        used_by=(RUN, CHECK, REPORT, PREFLIGHT, HISTORY, LOCUST),
        blank_is_value=True,
    ),
    Param(
        "influx_spool_dir",
        "INFLUX_SPOOL_DIR",
        _text,
        ".state/spool",
        "where batches InfluxDB could not take wait for replay (harness flush, or the next harness run)",
        used_by=(RUN, FLUSH, LOCUST),
        aliases=("--spool-dir",),
    ),
    Param(
        "influx_batch_size",
        "INFLUX_BATCH_SIZE",
        _whole,
        "5000",
        "points per write (a flush also happens every second)",
        _at_least(1),
        used_by=(RUN, LOCUST),
    ),
    Param(
        "influx_flush_timeout",
        "INFLUX_FLUSH_TIMEOUT",
        _number,
        "30",
        "seconds the listener's final flush waits for InfluxDB before it spools",
        _at_least(0),
        used_by=(RUN, LOCUST),
    ),
    Param(
        "influx_max_pending",
        "INFLUX_MAX_PENDING",
        _whole,
        "100000",
        "points held in memory while InfluxDB is away; older batches go to the spool",
        _at_least(0),
        used_by=(RUN, LOCUST),
    ),
    Param(
        "influx_points",
        "INFLUX_POINTS",
        _points,
        "requests",
        "what the listener stores: requests (one point per request, exact), sketches (per endpoint, status and "
        "second: exact counts, percentiles within 1 per cent; cost grows with endpoints, not requests) or both",
        used_by=(RUN, LOCUST),
        web_ui=True,
    ),
    Param(
        "influx_disable",
        "INFLUX_DISABLE",
        _switch,
        "false",
        "run Locust without the InfluxDB listener",
        used_by=(LOCUST,),
        switch=True,
    ),
    # Text, not a Path: Locust sends its options to the workers with msgpack.
    Param(
        "thresholds_file",
        "THRESHOLDS_FILE",
        _text,
        "baselines.yaml",
        "limits the verdict checks",
        used_by=(RUN, CHECK, REPORT, PREFLIGHT, HISTORY, LOCUST),
    ),
    Param(
        "out_dir",
        "OUT_DIR",
        Path,
        "load_test_reports",
        "folder for verdict.json, junit.xml, summary.md and reports",
        used_by=(RUN, CHECK, REPORT),
    ),
    Param(
        "generation_target_per_s",
        "GENERATION_TARGET_PER_S",
        _number,
        "10",
        "generations per second the run aims at",
        _at_least(0),
        used_by=(RUN, CHECK, REPORT),
    ),
    Param("seed_users", "SEED_USERS", _whole, "0", "test users to create before the run", _at_least(0)),
    Param("processes", "PROCESSES", _whole, "1", "Locust worker processes on this machine", _at_least(1)),
    Param("description", "DESCRIPTION", _text, "", "free text stored with the run"),
    Param(
        "grafana_url",
        "GRAFANA_URL",
        _url_or_empty,
        "",
        "Grafana base URL; when set, harness run prints the live dashboard's address",
    ),
    Param(
        "abort_on_fail",
        "ABORT_ON_FAIL",
        _switch,
        "false",
        "stop the run early when a limit fails over the trailing window (baselines.yaml 'abort:')",
        switch=True,
        used_by=(RUN, LOCUST),
    ),
    Param(
        "rates",
        "RATES",
        _rates,
        "",
        "arrival model: iterations per second of an API, API=PER_S (repeatable, or comma-separated in "
        "the env); USERS is then the pool serving them. Empty: the users model",
        flag_name="--rate",
        repeatable=True,
    ),
    Param("arrivals", "ARRIVALS", _arrival_kind, "constant", "spacing of arrivals: constant or poisson"),
    Param(
        "rate_profile",
        "RATE_PROFILE",
        _profile_path,
        "",
        "arrival model with stages: YAML/JSON list of {duration, rates}, each ramping linearly from the last",
    ),
    Param(
        "max_lateness_s",
        "MAX_LATENESS",
        _number,
        "10",
        "seconds an arrival may wait for a free pool user before it is dropped (and counted)",
        _above(0),
    ),
    Param(
        "verdict",
        "VERDICT",
        _switch,
        "false",
        "plain locust: the master or local runner judges the run when Locust quits, as harness run does, and "
        "exits 0 pass, 1 fail, 2 inconclusive or error (workers never judge)",
        used_by=(LOCUST,),
        switch=True,
    ),
    Param(
        "termination_message",
        "TERMINATION_MESSAGE",
        _text,
        "",
        "with --verdict: file that gets the verdict's one line and run id (Kubernetes' terminationMessagePath); "
        "empty: /dev/termination-log when that file exists (Kubernetes makes it), else none",
        used_by=(LOCUST,),
    ),
)
_BY_ENV = {p.env: p for p in PARAMS}
# The env file is read by the harness commands; a Locust-only setting has no business there.
_FILE_KEYS = {p.env: p for p in PARAMS if set(p.used_by) & set(COMMANDS)}


def params_for(context: str) -> tuple[Param, ...]:
    """The settings a command (or LOCUST) takes, in table order."""
    return tuple(p for p in PARAMS if context in p.used_by)


def from_environment(env: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting's value from the environment alone (else its default): for code that runs
    where no flags are parsed, such as the scenarios inside Locust."""
    p = _BY_ENV[env]
    text = (os.environ if environ is None else environ).get(env, "")
    return _parse(p, text, "environment" if text.strip() else "default")


@dataclass(frozen=True)
class Settings:
    users: int
    spawn_rate: float
    run_time_s: int
    run_id: str
    test_env: str
    target_host: str
    influx_url: str
    influx_db: str
    influx_token: str = field(repr=False)
    influx_user: str
    influx_password: str = field(repr=False)
    influx_runs_rp: str
    influx_spool_dir: str
    influx_batch_size: int
    influx_flush_timeout: float
    influx_max_pending: int
    influx_points: str
    influx_disable: bool
    thresholds_file: str
    out_dir: Path
    generation_target_per_s: float
    seed_users: int
    processes: int
    description: str
    grafana_url: str
    abort_on_fail: bool
    rates: str
    arrivals: str
    rate_profile: str
    max_lateness_s: float
    verdict: bool
    termination_message: str
    # Where each value came from: "default", "flag", "environment" or "FILE:LINE".
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def public_dict(self) -> dict[str, Any]:
        """Every parameter by env name, secrets masked: safe to log or store with the run."""
        out = {}
        for p in PARAMS:
            value = getattr(self, p.name)
            out[p.env] = (
                ("***" if value else "") if p.secret else (str(value) if isinstance(value, Path) else value)
            )
        return out


def add_arguments(parser: argparse.ArgumentParser, command: str = RUN) -> None:
    """One ``--kebab-case`` flag per setting the command takes; default None so "not given" is
    not a value (``resolve`` then looks at the lower layers)."""
    group = parser.add_argument_group(
        "settings (flag > environment > env file > default; all of them: harness settings)"
    )
    group.add_argument(
        "--env-file",
        dest="env_file",
        default=None,
        type=Path,
        metavar="PATH",
        help=f"KEY=VALUE file of settings (default: {DEFAULT_ENV_FILE} if present)",
    )
    for p in params_for(command):
        shown = "" if p.secret else f", default: {p.default or 'empty'}"
        switch: dict[str, Any] = {"nargs": "?", "const": "true"} if p.switch else {}
        if p.repeatable:
            switch = {"action": "append"}
        group.add_argument(
            p.flag,
            *p.aliases,
            dest=p.dest,
            default=None,
            metavar=p.env,
            help=f"{p.help} (env {p.env}{shown})",
            **switch,
        )


def default_env_file(directory: Path | None = None) -> Path | None:
    """``.env.load-testing`` in ``directory`` (default: the working directory) if it exists."""
    path = Path(directory or ".") / DEFAULT_ENV_FILE
    return path if path.is_file() else None


def resolve(args: argparse.Namespace | None, environ: Mapping[str, str], env_file: Path | None) -> Settings:
    """Settings from defaults < env file < environment (known keys only) < flags.

    ``args.env_file`` (the --env-file flag), when given, replaces ``env_file``.
    """
    flag_file = getattr(args, "env_file", None) if args is not None else None
    env_file = flag_file or env_file
    layers: list[tuple[dict[str, tuple[str, str]], bool]] = [
        ({p.env: (p.default, "default") for p in PARAMS}, False),
        (read_env_file(env_file) if env_file is not None else {}, True),
        ({p.env: (environ[p.env], "environment") for p in PARAMS if p.env in environ}, True),
        (
            {
                p.env: (_flag_text(getattr(args, p.dest)), "flag")
                for p in PARAMS
                if args is not None and getattr(args, p.dest, None) is not None
            },
            True,
        ),
    ]
    chosen: dict[str, tuple[str, str]] = {}
    for layer, blank_is_unset in layers:
        for env, (text, source) in layer.items():
            if text.strip() or not blank_is_unset or _BY_ENV[env].blank_is_value:
                chosen[env] = (text.strip(), source)
    values = {p.name: _parse(p, *chosen[p.env]) for p in PARAMS}
    return Settings(**values, sources={p.name: chosen[p.env][1] for p in PARAMS})


def _flag_text(value: str | list[str]) -> str:
    """A repeatable flag's values as one comma-separated text (as in the env file)."""
    return ",".join(value) if isinstance(value, list) else value


def _parse(p: Param, text: str, source: str) -> Any:
    try:
        return p.value(text)
    except _Bad as exc:
        where = {
            "flag": p.flag,
            "environment": f"{p.env} from the environment",
            "default": f"{p.env} built-in default",
        }.get(source, f"{p.env} from {source}")
        raise HarnessError(f"{where}: {bad_value(p, text, exc)}") from None


def bad_value(p: Param, text: str, problem: Exception) -> str:
    """``'ten' is not a whole number``; a secret's value is never shown."""
    return f"{'(hidden)' if p.secret else repr(text)} {problem}"


def as_text(value: Any) -> str:
    """A parsed value written back as a flag or env file would hold it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
        if key not in _FILE_KEYS:
            close = closest_match(key, list(_FILE_KEYS))
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
        tail = rest[end + 1 :].strip()
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

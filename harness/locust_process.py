"""Locust as a child process of ``harness run``: its command line, and a live progress line
read back from InfluxDB (which also proves, while the run goes on, that points arrive)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.influx.client import InfluxClient, QueryError, quote_string
from harness.influx.local import free_port
from harness.settings import LOCUST, RUN, Param, Settings, as_text, params_for

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
USERS_FRESH_S = 10  # a process whose latest user count is older than this has stopped


# Arrival model: the pool is pre-allocated, so it is spawned at least this fast (arrivals begin
# once it is complete; Locust warns about faster spawning).
POOL_SPAWN_RATE = 100.0


def spawn_rate(settings: Settings) -> float:
    """SPAWN_RATE; in the arrival model at least the whole pool, or 100, per second."""
    if settings.rates or settings.rate_profile:
        return max(settings.spawn_rate, min(float(settings.users), POOL_SPAWN_RATE))
    return settings.spawn_rate


def arrival_arguments(settings: Settings) -> list[str]:
    """The arrival model's Locust options (none in the users model)."""
    if not (settings.rates or settings.rate_profile):
        return []
    args = ["--arrivals", settings.arrivals, "--max-lateness", f"{settings.max_lateness_s:g}"]
    if settings.rates:
        args += ["--rate", settings.rates]
    if settings.rate_profile:
        args += ["--rate-profile", str(Path(settings.rate_profile).resolve())]
    return args


def listener_settings(settings: Settings, run_id: str) -> list[tuple[Param, str]]:
    """Every listener setting ``harness run`` took, with its value as text: handed to Locust, so a
    setting means the same in both (RUN_ID: the id this run uses)."""
    return [
        (p, run_id if p.env == "RUN_ID" else as_text(getattr(settings, p.name)))
        for p in params_for(LOCUST)
        if RUN in p.used_by
    ]


def locust_command(settings: Settings, host: str, run_id: str, out_dir: Path) -> list[str]:
    # Secrets go in the environment (locust_environment), not on a command line that `ps` shows.
    # A switch is Locust's store_true: its flag alone when on, nothing when off.
    listener_flags = [
        p.flag if p.switch else f"{p.flag}={text}"
        for p, text in listener_settings(settings, run_id)
        if not p.secret and (not p.switch or text == "true")
    ]
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(settings.users),
        "-r",
        f"{spawn_rate(settings):g}",
        "-t",
        f"{settings.run_time_s}s",
        "--host",
        host,
        *listener_flags,
        "--csv",
        str(out_dir / "locust"),
        "--html",
        str(out_dir / "locust.html"),
        "--json-file",
        str(out_dir / "locust_stats"),
        "--only-summary",
        "--stop-timeout",
        "10",
        "--loglevel",
        "INFO",
    ]
    if settings.processes > 1:
        cmd += ["--processes", str(settings.processes), *private_master_arguments()]
    return cmd + arrival_arguments(settings)


def locust_environment(
    settings: Settings, seed_manifest: Path | None, generation_target: float | None
) -> dict[str, str]:
    secrets = {p.env: text for p, text in listener_settings(settings, settings.run_id) if p.secret}
    # TEST_ENV too: with locust-plugins installed, its own --test-env hides the listener's.
    env = dict(
        os.environ,
        **secrets,
        TEST_ENV=settings.test_env,
        GENERATION_TARGET_PER_S=str(generation_target or 0),
        PYTHONUNBUFFERED="1",
    )
    for key in ("RATES", "ARRIVALS", "RATE_PROFILE", "MAX_LATENESS"):
        env.pop(key, None)  # the command line says what this run asked for; a stale variable must not
    for key in ("VERDICT", "TERMINATION_MESSAGE"):
        env.pop(key, None)  # harness run judges the run itself: a second verdict from its Locust must not
    if seed_manifest:
        env["SEED_MANIFEST"] = str(seed_manifest)
    return env


def progress_line(
    client: InfluxClient, run_id: str, elapsed_s: float, total_s: float, points: str = "requests"
) -> str:
    where = f'"run_id" = {quote_string(run_id)}'
    # Sketch mode: the per-second points' counts (a second is written once it is folded, so the
    # last five seconds lag by one).
    counted = (
        'sum("count") FROM "request_sketch"'
        if points == "sketches"
        else 'count("response_time") FROM "request"'
    )
    try:
        results = client.query_results(
            f"SELECT {counted} WHERE {where}; "
            f"SELECT {counted} WHERE {where} AND \"result\" = 'fail'; "
            f"SELECT {counted} WHERE {where} AND time > now() - 5s; "
            # Each process writes its count every second: the sum over processes of each one's
            # latest count, not of every point in a window (which counted some twice, some never).
            f'SELECT sum("users") FROM (SELECT last("users") AS "users" FROM "users" WHERE {where} '
            f'AND time > now() - {USERS_FRESH_S}s GROUP BY "worker")'
        )
    except QueryError as exc:
        return f"[{elapsed_s:5.0f}/{total_s:.0f}s] InfluxDB query failed: {exc}"
    values = [r["series"][0]["values"][0][1] if r.get("series") else 0 for r in results]
    requests, failures, recent, users = (int(v or 0) for v in values)
    fail_pct = 100.0 * failures / requests if requests else 0.0
    return (
        f"[{elapsed_s:5.0f}/{total_s:.0f}s] users {users:4d} | requests {requests:7d} | "
        f"{recent / 5:7.1f} req/s | failures {fail_pct:5.1f} %"
    )


def run_locust(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    client: InfluxClient,
    run_id: str,
    total_s: float,
    interval_s: float = 2.0,
    points: str = "requests",
) -> tuple[int, bool]:
    """Run Locust to its end, printing progress; returns (exit code, interrupted).

    SIGINT/SIGTERM to the harness are passed on as SIGTERM, on which Locust stops its users,
    fires test_stop (the listener's final flush) and exits."""
    interrupted = False
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)

        def forward(signum, _frame):
            nonlocal interrupted
            interrupted = True
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            started = time.monotonic()
            tty = sys.stdout.isatty()
            last_printed = 0.0
            while proc.poll() is None:
                try:
                    proc.wait(timeout=interval_s)
                except subprocess.TimeoutExpired:
                    pass
                if proc.poll() is not None:
                    break
                elapsed = time.monotonic() - started
                # On a terminal, one line rewritten in place; in CI logs, a line every 10 s.
                if tty:
                    print("\r" + progress_line(client, run_id, elapsed, total_s, points), end="", flush=True)
                elif elapsed - last_printed >= 10:
                    print(progress_line(client, run_id, elapsed, total_s, points), flush=True)
                    last_printed = elapsed
            if tty:
                print()
            return proc.returncode, interrupted
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def last_error_line(log_path: Path) -> str:
    """The most telling line of a failed Locust: our one-line errors first, then any error."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    for marker in ("harness.listener: error:", "harness: error:", "error:", "Error"):
        hits = [line for line in lines if marker in line]
        if hits:
            return hits[-1].strip()[:300]
    return (lines[-1].strip() if lines else "no output")[:300]


def locust_request_count(out_dir: Path) -> int | None:
    """Total requests from Locust's own --json-file (None when Locust wrote none)."""
    import json

    try:
        return sum(int(e["num_requests"]) for e in json.loads((out_dir / "locust_stats.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def private_master_arguments() -> list[str]:
    """A free loopback port for a --processes master and its forked workers. Locust's master
    listens on *:5557 unless told otherwise: two runs on one machine would take each other's
    worker processes (seen here: a third worker joined a --processes 2 run and mixed its points
    and user counts in)."""
    port = str(free_port())
    return [
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        port,
        "--master-host",
        "127.0.0.1",
        "--master-port",
        port,
    ]

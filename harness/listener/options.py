"""The listener's command-line options, each with its environment variable beside it."""

from __future__ import annotations

import os

# (flag, env var, default, help). Locust's parser (ConfigArgParse) reads the environment
# variable, so a Locust started by ``harness run`` and one started by hand behave the same.
OPTIONS: list[tuple[str, str, str, str]] = [
    ("--influx-url", "INFLUX_URL", "http://127.0.0.1:8086", "InfluxDB base URL"),
    ("--influx-db", "INFLUX_DB", "loadtest", "database (1.x) or DBRP-mapped database (2.x/3.x)"),
    ("--influx-token", "INFLUX_TOKEN", "", "API token (InfluxDB 2.x/3.x)"),
    ("--influx-user", "INFLUX_USER", "", "username (InfluxDB 1.x with auth)"),
    ("--influx-password", "INFLUX_PASSWORD", "", "password (InfluxDB 1.x with auth)"),
    ("--influx-runs-rp", "INFLUX_RUNS_RP", "runs",
     "retention policy for long-lived run data (events, run, threshold, run_summary); '' = default RP"),
    ("--influx-spool-dir", "INFLUX_SPOOL_DIR", ".state/spool",
     "where batches InfluxDB could not take wait for replay (harness flush)"),
    ("--run-id", "RUN_ID", "", "run id tag; made by the master/local runner when empty (new per test)"),
    ("--test-env", "TEST_ENV", "local", "test environment tag (local, compose, staging, …)"),
]

NUMERIC_OPTIONS: list[tuple[str, str, float, str]] = [
    ("--influx-batch-size", "INFLUX_BATCH_SIZE", 5000, "points per write (a flush also happens every second)"),
    ("--influx-flush-timeout", "INFLUX_FLUSH_TIMEOUT", 30, "seconds to wait at stop for unsent points"),
    ("--influx-max-pending", "INFLUX_MAX_PENDING", 100_000,
     "points held in memory while InfluxDB is away; older batches go to the spool"),
]


def add_arguments(parser) -> None:
    # Locust only understands include_in_web_ui on the parser itself, not on argument groups.
    group = parser
    for flag, env, default, help_text in OPTIONS:
        if flag in parser._option_string_actions:
            # locust-plugins (which Locust imports when installed) already defines --test-env,
            # with LOCUST_TEST_ENV; test_env() below also honours TEST_ENV.
            continue
        group.add_argument(flag, env_var=env, default=default,
                           help=f"{help_text} [env {env}]", include_in_web_ui=False)
    for flag, env, default, help_text in NUMERIC_OPTIONS:
        group.add_argument(flag, env_var=env, type=float, default=float(default),
                           help=f"{help_text} [env {env}]", include_in_web_ui=False)
    # Live checks: only the master or local runner uses these (harness/listener/live_checks.py).
    group.add_argument("--abort-on-fail", action="store_true", default=False, env_var="ABORT_ON_FAIL",
                       help="stop the test when a limit fails over the trailing window (baselines.yaml "
                            "'abort:') [env ABORT_ON_FAIL]", include_in_web_ui=False)
    group.add_argument("--thresholds-file", env_var="THRESHOLDS_FILE", default="baselines.yaml",
                       help="limits the live checks judge [env THRESHOLDS_FILE]", include_in_web_ui=False)
    group.add_argument("--influx-disable", action="store_true", default=False, env_var="INFLUX_DISABLE",
                       help="run without the InfluxDB listener [env INFLUX_DISABLE]", include_in_web_ui=False)


def test_env(options) -> str:
    """The test environment tag: --test-env, LOCUST_TEST_ENV, TEST_ENV, else "local"."""
    return getattr(options, "test_env", "") or os.environ.get("TEST_ENV", "") or "local"

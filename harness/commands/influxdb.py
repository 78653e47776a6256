"""``harness influxdb start|stop|status``: the embedded local InfluxDB."""

from __future__ import annotations

from pathlib import Path

from harness.commands.common import default_state_dir
from harness.exitcodes import ExitCode
from harness.influx.local import INSTALL_HINT, LocalInfluxd, find_influxd


def register(subparsers) -> None:
    parser = subparsers.add_parser("influxdb", help="run a local influxd on loopback (no Docker needed)")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--port", type=int, default=8086, help="HTTP port (default 8086; 0 picks a free one)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where config, data, log and PID live (default $HARNESS_STATE_DIR or .state)",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    server = LocalInfluxd((args.state_dir or default_state_dir()) / "influxdb", port=args.port)
    if args.action == "start":
        url = server.start()
        print(f"influxdb running at {url} (pid {server.running_pid()}, data in {server.root})")
        return ExitCode.PASS
    if args.action == "stop":
        print("influxdb stopped" if server.stop() else "influxdb was not running")
        return ExitCode.PASS
    pid = server.running_pid()
    if pid:
        print(f"influxdb running at {server.url} (pid {pid}, data in {server.root})")
        return ExitCode.PASS
    print("influxdb not running" + ("" if find_influxd() else f"; influxd not found: {INSTALL_HINT}"))
    return ExitCode.FAIL

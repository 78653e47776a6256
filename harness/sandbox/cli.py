"""The sandbox's command line, shared by ``harness sandbox`` and ``python -m harness.sandbox``: its
options, their checks, and serving the reference API (auth, generation, payments) until a signal."""

from __future__ import annotations

import argparse
import random

from harness.errors import HarnessError

HELP = "run the in-memory reference API that load tests can target"
DESCRIPTION = (
    "Serve the sandbox API until SIGINT/SIGTERM. Prints 'sandbox listening on http://HOST:PORT' "
    "once bound. Local use only: the /_sandbox admin routes have no auth."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one (default: 8080)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SCOPE:KEY=VALUE[,KEY=VALUE]",
        help="inject latency, errors or a stall; SCOPE is all, auth, generation, payments, a route such as "
        "'/api/v1/generations/[id]' or an endpoint such as 'POST /api/v1/payments'; "
        "KEY is error_rate, latency_ms, jitter_ms, or stall_at_s and stall_s (hold answers to requests "
        "arriving in [T, T+S) s after the first request until T+S) (repeatable)",
    )
    parser.add_argument(
        "--gen-queue-s", type=float, default=0.2, help="seconds a task stays queued (default: 0.2)"
    )
    parser.add_argument(
        "--gen-process-s", type=float, default=0.5, help="seconds a task stays processing (default: 0.5)"
    )
    parser.add_argument(
        "--gen-fail-rate", type=float, default=0.0, help="fraction of tasks that end failed, 0-1 (default: 0)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for fault draws and task failures")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr (slower)")


def _check_numbers(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise HarnessError(f"--port {args.port} is out of range 0..65535")
    for flag, value in (("--gen-queue-s", args.gen_queue_s), ("--gen-process-s", args.gen_process_s)):
        if not 0 <= value <= 3600:  # also rejects nan
            raise HarnessError(f"{flag} {value} is out of range 0..3600")
    if not 0 <= args.gen_fail_rate <= 1:
        raise HarnessError(f"--gen-fail-rate {args.gen_fail_rate} is out of range 0..1")


def run(args: argparse.Namespace) -> int:
    _check_numbers(args)
    from harness.sandbox.faults import FaultTable

    faults = FaultTable(args.fault)  # a bad spec fails here, before Flask loads or a port is bound
    # Imported late so that `harness --help`, other commands and bad input skip Flask and gevent.
    from harness.sandbox.app import create_app
    from harness.sandbox.server import serve
    from harness.sandbox.store import Store, Timings

    rng = random.Random(args.seed)
    timings = Timings(args.gen_queue_s, args.gen_process_s, args.gen_fail_rate)
    app = create_app(Store(timings, rng), faults, rng)
    return serve(args.host, args.port, app, access_log=args.access_log)

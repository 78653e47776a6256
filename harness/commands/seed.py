"""``harness seed`` and ``harness cleanup``: test data before a load test and its removal after.

Numbers are parsed here rather than by argparse's type=, so a bad value is the harness's usual
one-line error instead of argparse's usage block.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.runid import new_run_id
from seed.cleaner import cleanup
from seed.seeder import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, DataSeeder


def register(subparsers: argparse._SubParsersAction) -> None:
    seed = subparsers.add_parser(
        "seed",
        help="create synthetic users and subscriptions on the target, listed in a manifest",
        description="Create synthetic users (Faker) and subscriptions through the target's "
        "API. Every e-mail is lt-<run id>-<n>@loadtest.invalid; every record is listed in the "
        "manifest as soon as it exists, for `harness cleanup`.",
    )
    seed.add_argument("--host", required=True, help="target base URL, e.g. http://127.0.0.1:8089")
    seed.add_argument("--users", required=True, metavar="N", help="users to create (>= 1)")
    seed.add_argument("--manifest", required=True, metavar="FILE", help="manifest JSON to write")
    seed.add_argument("--seed", metavar="S", help="random seed (default: random, recorded)")
    seed.add_argument("--run-id", metavar="ID", help="marker in e-mails and names (default: new)")
    seed.add_argument(
        "--concurrency",
        metavar="C",
        default=str(DEFAULT_CONCURRENCY),
        help=f"parallel connections (1-{MAX_CONCURRENCY}, default {DEFAULT_CONCURRENCY})",
    )
    seed.set_defaults(func=run_seed)

    clean = subparsers.add_parser(
        "cleanup",
        help="delete exactly the users and subscriptions a seed manifest lists",
        description="Delete every user and subscription the manifest lists, logging in as "
        "each user. Records already gone count as done, so running it twice is safe.",
    )
    clean.add_argument("--manifest", required=True, metavar="FILE", help="manifest from `harness seed`")
    clean.add_argument("--host", help="target base URL (default: the manifest's host)")
    clean.add_argument(
        "--concurrency",
        metavar="C",
        default=str(DEFAULT_CONCURRENCY),
        help=f"parallel connections (1-{MAX_CONCURRENCY}, default {DEFAULT_CONCURRENCY})",
    )
    clean.set_defaults(func=run_cleanup)


def parse_int(value: str | None, option: str, minimum: int, maximum: int | None = None) -> int:
    """value as an int within bounds, or a HarnessError naming option and value."""
    bounds = f">= {minimum}" if maximum is None else f"{minimum}-{maximum}"
    try:
        number = int(str(value).strip())
    except ValueError:
        raise HarnessError(f"{option} must be a whole number {bounds}, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        raise HarnessError(f"{option} must be a whole number {bounds}, got {value!r}")
    return number


def run_seed(args: argparse.Namespace) -> int:
    users = parse_int(args.users, "--users", 1)
    concurrency = parse_int(args.concurrency, "--concurrency", 1, MAX_CONCURRENCY)
    seed = None if args.seed is None else parse_int(args.seed, "--seed", 0)
    seeder = DataSeeder(
        args.host,
        args.run_id or new_run_id(),
        users=users,
        manifest_path=args.manifest,
        seed=seed,
        concurrency=concurrency,
    )
    start = time.perf_counter()
    try:
        manifest = seeder.run()
    except KeyboardInterrupt:
        if not Path(args.manifest).exists():
            raise
        # The CLI reports the interrupt; say where the records made so far are listed.
        print(
            f"harness seed: {args.manifest} lists what was created; remove it with "
            f"`harness cleanup --manifest {args.manifest}`",
            file=sys.stderr,
        )
        raise
    elapsed = time.perf_counter() - start
    print(
        f"seeded {len(manifest.users)} users, {manifest.subscription_count} subscriptions "
        f"in {elapsed:.1f} s (run id {manifest.run_id}, seed {manifest.seed}); "
        f"manifest {args.manifest}"
    )
    return ExitCode.PASS


def run_cleanup(args: argparse.Namespace) -> int:
    concurrency = parse_int(args.concurrency, "--concurrency", 1, MAX_CONCURRENCY)
    report = cleanup(args.host, args.manifest, concurrency=concurrency)
    print(report.summary())
    if report.all_gone:
        return ExitCode.PASS
    raise HarnessError(
        f"{len(report.failures)} users may still be on the target (first: {report.failures[0]}); "
        f"run `harness cleanup --manifest {args.manifest}` again"
    )

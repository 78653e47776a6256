"""Run every benchmark in bench/ (``bench_*.py``) in turn, each bounded in time.

Each benchmark is run the way its own docstring says: the first line there that reads
``python bench/bench_NAME.py ARGS`` gives the arguments (optional ``[...]`` parts left out);
a benchmark without such a line runs with no arguments. ``make bench`` runs this file.

    python bench/run_all.py [--timeout 600] [--only listener check] [--dry-run]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
USAGE_LINE = re.compile(r"^\s*\S*python3?\s+bench/(?P<file>bench_\w+\.py)(?P<args>.*)$")
GRACE_S = 30.0  # after SIGINT, for a benchmark's own cleanup (it stops the servers it started)


def benchmarks(only: list[str]) -> list[Path]:
    found = sorted(BENCH.glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        unknown = wanted - {p.stem.removeprefix("bench_") for p in found}
        if unknown:
            raise SystemExit(f"run_all: no benchmark named {', '.join(sorted(unknown))} in {BENCH}")
        found = [p for p in found if p.stem.removeprefix("bench_") in wanted]
    return found


def documented_args(path: Path) -> list[str]:
    """The arguments of the usage line in the benchmark's docstring (read, not imported)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    for line in doc.splitlines():
        match = USAGE_LINE.match(line)
        if match and match["file"] == path.name:
            return shlex.split(re.sub(r"\[[^\]]*\]", "", match["args"]))
    return []


def run_one(path: Path, timeout_s: float) -> tuple[str, int | None, float]:
    """(status, exit code, seconds). The benchmark gets its own process group, so a timeout
    reaches its children too; SIGINT first lets it stop the servers it started."""
    command = [sys.executable, str(path.relative_to(ROOT)), *documented_args(path)]
    print(f"\n=== {path.name}: {shlex.join(command)} (at most {timeout_s:.0f} s)", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return "timed out", None, time.monotonic() - started
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=GRACE_S)
        raise
    status = {0: "ok", 1: "goal missed"}.get(code, "error")
    return status, code, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds each benchmark may take (default 600)"
    )
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME", help="e.g. listener check (bench_NAME.py)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print each command, run nothing")
    args = parser.parse_args(argv)
    found = benchmarks(args.only)
    if args.dry_run:
        for path in found:
            print(shlex.join([sys.executable, str(path.relative_to(ROOT)), *documented_args(path)]))
        return 0
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    results = [(path.name, *run_one(path, args.timeout)) for path in found]
    print("\n| benchmark | result | exit code | seconds |")
    print("|---|---|---:|---:|")
    for name, status, code, seconds in results:
        print(f"| {name} | {status} | {'—' if code is None else code} | {seconds:.0f} |")
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    return 0 if all(code == 0 for _, _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Memory while InfluxDB is away, and how fast the spool replays.

One Locust process (FastHttpUser, no wait, the listener loaded) runs at full speed against a
static target on 127.0.0.1 while InfluxDB is stopped right after the listener's start-up check,
so everything goes through the memory cap and the on-disk spool. Locust's resident memory is
sampled every 2 s; growth is the end value against the value 30 s in (after start-up and the
first spill). Then InfluxDB comes back, ``harness flush`` replays the spool (timed: points/s),
and the stored points must equal Locust's own count exactly.

    python bench/bench_spool.py --seconds 300 --users 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_listener import _pin, locust_command, start_target  # noqa: E402
from harness.influx.client import InfluxClient, InfluxSettings  # noqa: E402
from harness.influx.local import LocalInfluxd  # noqa: E402

GROWTH_GOAL_MB = 64.0
DATABASE = "bench_listener"  # the database bench_listener's locust_command writes to


def mb(n_bytes: float) -> float:
    return n_bytes / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=300.0, help="how long Locust runs with InfluxDB down"
    )
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args(argv)
    os.environ["BENCH_USER_CLASS"] = "fast"
    _pin(0)  # this script, the target and influxd stay off Locust's core
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        url = influxd.start()
        port = influxd.port
        target, host = start_target(work)
        spool = work / "spool"
        run_id = f"bench-spool-{os.getpid()}"
        cmd = locust_command("with", host, args.seconds, args.users, work / "stats", url, run_id)
        cmd += ["--influx-spool-dir", str(spool), "--influx-flush-timeout", "2"]
        samples: list[tuple[float, float]] = []
        try:
            with open(work / "locust.log", "wb") as log:
                proc = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work, preexec_fn=lambda: _pin(1)
                )
            time.sleep(2.0)  # the listener's start-up check needs InfluxDB; then it goes away
            influxd.stop()
            p = psutil.Process(proc.pid)
            started = time.monotonic()
            while proc.poll() is None:
                try:
                    samples.append((time.monotonic() - started, p.memory_info().rss))
                except psutil.NoSuchProcess:
                    break
                time.sleep(2.0)
            proc.wait()
        finally:
            target.terminate()
            target.wait(timeout=10)
        counted = sum(e["num_requests"] for e in json.loads((work / "stats.json").read_text()))
        spooled_files = list(spool.rglob("*.lp.gz"))
        spooled_bytes = sum(f.stat().st_size for f in spooled_files)

        LocalInfluxd(influxd.root, port=port).start()
        began = time.monotonic()
        flush = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "flush",
                "--spool-dir",
                str(spool),
                "--influx-url",
                url,
                "--influx-db",
                DATABASE,
            ],
            capture_output=True,
            text=True,
            cwd=work,
            timeout=1800,
        )
        flush_s = time.monotonic() - began
        client = InfluxClient(InfluxSettings(url=url, database=DATABASE, timeout_s=120))
        series = client.query(f'SELECT count("response_time") FROM "request" WHERE "run_id" = \'{run_id}\'')
        stored = int(series[0]["values"][0][1]) if series else 0
        influxd.stop()

    at_30 = next((rss for t, rss in samples if t >= 30), samples[0][1])
    growth = mb(samples[-1][1] - at_30)
    flushed_points = int(flush.stdout.split()[1]) if flush.returncode == 0 else 0
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; {args.users} FastHttpUsers, "
        f"{args.seconds:g} s with InfluxDB down"
    )
    print(f"requests Locust counted: {counted} ({counted / args.seconds:.0f}/s)")
    print(
        f"Locust RSS: {mb(samples[0][1]):.1f} MB at start, {mb(at_30):.1f} MB at 30 s, "
        f"{mb(max(r for _, r in samples)):.1f} MB max, {mb(samples[-1][1]):.1f} MB at the end"
    )
    print(
        f"growth after 30 s: {growth:.1f} MB (goal < {GROWTH_GOAL_MB:g} MB: "
        f"{'met' if growth < GROWTH_GOAL_MB else 'MISSED'})"
    )
    print(
        f"spool: {len(spooled_files)} files, {mb(spooled_bytes):.1f} MB gzip "
        f"({spooled_bytes / max(counted, 1):.1f} bytes a point)"
    )
    print(
        f"harness flush: {flush_s:.1f} s, {flushed_points} points → {flushed_points / flush_s:.0f} points/s"
        + ("" if flush.returncode == 0 else f" (FAILED: {flush.stderr.strip()})")
    )
    print(f"stored after replay: {stored} of {counted} ({'exact' if stored == counted else 'NOT EXACT'})")
    print(
        "RSS every 30 s (s: MB): " + ", ".join(f"{t:.0f}: {mb(r):.1f}" for t, r in samples if int(t) % 30 < 2)
    )
    return 0 if growth < GROWTH_GOAL_MB and stored == counted and flush.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

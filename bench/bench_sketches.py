"""Sketch mode against request points: what ``harness check`` costs as the requests grow, and what
a run stores — both modes side by side on one private influxd.

For each size N (requests of one synthetic run at RATE requests/s, so N / RATE seconds long, the
8 endpoints and weights of bench_check.py, lognormal latencies, 2 % failures):

- requests mode: the run's request points, written by bench_check.py's writer child (the
  listener's own ``RequestRecorder`` lines, 4 workers);
- sketch mode: the run's ``request_sketch`` points as the listener makes them (``Second`` fields,
  one point per worker, endpoint, status and second; WORKERS workers), plus the users and
  listener_stats points;

then times ``harness check --run-id RUN --no-store`` (the CLI, a subprocess) ``--repeat`` times,
and measures the bytes the database holds on disk (``data`` + ``wal`` folders of its database)
once compacted (influxd told to snapshot and compact within seconds, not hours), scaled to one
hour at RATE requests/s. Request points beyond ``--max-request-points``
are not written (too big for this machine): their times are extrapolated, and the report says so.

    python bench/bench_sketches.py --sizes 100000 1000000 [--rate 10000] [--repeat 3] [--max-request-points 10000000]

(The issue's full range, ``--sizes 100000 1000000 10000000 100000000``, takes about half an hour
here.) The fleet of synthetic workers is bench_fleet.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.lineprotocol import make_line, series_prefix
from harness.influx.local import LocalInfluxd
from harness.influx.schema import ensure_database
from harness.influx.sketch import MEASUREMENT, SECOND_NS, Second

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ENDPOINTS = [  # as bench_check.py: (method, name, api, weight, median ms, ok status)
    ("GET", "/health", "auth", 10, 3.0, 200),
    ("POST", "/api/v1/auth/register", "auth", 2, 60.0, 201),
    ("POST", "/api/v1/auth/login", "auth", 8, 40.0, 200),
    ("POST", "/api/v1/generations", "generation", 10, 120.0, 202),
    ("GET", "/api/v1/generations/[id]", "generation", 40, 15.0, 200),
    ("GET", "/api/v1/generations", "generation", 10, 30.0, 200),
    ("POST", "/api/v1/payments", "payments", 10, 80.0, 201),
    ("GET", "/api/v1/payments", "payments", 10, 25.0, 200),
]
FAILURE_RATE = 0.02
WORKERS = 4


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def db_bytes(data_dir: Path, database: str) -> int:
    """The database's shards (TSM files, indexes) and write-ahead log. Its ``_series`` folder is left
    out: InfluxDB 1.6 preallocates ~32 MB of series-file segments per database, whatever it holds."""
    total = 0
    for part in ("data", "wal"):
        for path in (data_dir / part / database).rglob("*"):
            if path.is_file() and "_series" not in path.parts:
                total += path.stat().st_size
    return total


def settled_bytes(data_dir: Path, database: str, limit_s: float = 120.0) -> int:
    """The database's bytes once the WAL is snapshotted and compaction stops changing the size."""
    deadline, last = time.monotonic() + limit_s, -1
    while time.monotonic() < deadline:
        time.sleep(3)
        now = db_bytes(data_dir, database)
        wal = sum(p.stat().st_size for p in (data_dir / "wal" / database).rglob("*.wal") if p.is_file())
        if now == last and wal < 1_000_000:
            return now
        last = now
    return last


def write_sketch_run(client: InfluxClient, run_id: str, requests: int, rate: float, seed: int) -> dict:
    """The run as sketch mode stores it: per second, worker, endpoint and result one point."""
    rng = np.random.default_rng(seed)
    seconds = max(1, int(round(requests / rate)))
    end = int(time.time()) - 60
    start = end - seconds
    weights = np.array([e[3] for e in ENDPOINTS], dtype=float)
    weights /= weights.sum()
    per_second = np.full(seconds, requests // seconds)
    per_second[: requests % seconds] += 1
    prefixes = {}
    lines: list[str] = []
    points = 0
    began = time.perf_counter()
    write_s = 0.0
    seen = [0] * WORKERS
    for s in range(seconds):
        t_ns = (start + s) * SECOND_NS
        for w, n in enumerate(np.bincount(rng.integers(0, WORKERS, per_second[s]), minlength=WORKERS)):
            seen[w] += int(n)
            for e, k in enumerate(rng.multinomial(n, weights)):
                if not k:
                    continue
                method, name, api, _weight, median, ok_status = ENDPOINTS[e]
                values = rng.lognormal(math.log(median), 0.6, k)
                failed = rng.random(k) < FAILURE_RATE
                for fail, part in ((False, values[~failed]), (True, values[failed])):
                    if not len(part):
                        continue
                    key = (w, e, fail)
                    if key not in prefixes:
                        prefixes[key] = series_prefix(
                            MEASUREMENT,
                            {
                                "run_id": run_id,
                                "test_env": "bench",
                                "worker": f"bench-worker-{w + 1}",
                                "api": api,
                                "name": name,
                                "method": method,
                                "result": "fail" if fail else "ok",
                                "status": 500 if fail else ok_status,
                            },
                        )
                    second = Second.of(part)
                    second.first, second.last = t_ns, t_ns + SECOND_NS - 1000
                    if fail:
                        second.failures = second.count
                        second.errors = {
                            f"500 Server Error: INTERNAL SERVER ERROR for url: {name}": second.count
                        }
                    lines.append(f"{prefixes[key]}{second.fields()} {t_ns}")
        if len(lines) >= 5000 or s == seconds - 1:
            t0 = time.perf_counter()
            client.write(("\n".join(lines) + "\n").encode())
            write_s += time.perf_counter() - t0
            points += len(lines)
            lines = []
    extra = []
    for w in range(WORKERS):
        worker = f"bench-worker-{w + 1}"
        extra += [
            make_line(
                "users",
                {"run_id": run_id, "test_env": "bench", "worker": worker},
                {"users": 25, "cpu_percent": 50.0},
                (start + s) * SECOND_NS + w,
            )
            for s in range(seconds + 1)
        ]
        extra.append(
            make_line(
                "listener_stats",
                {"run_id": run_id, "test_env": "bench", "worker": worker},
                {
                    "seen": seen[w],
                    "written": seen[w],
                    "retried": 0,
                    "dropped": 0,
                    "pending": 0,
                    "final": True,
                },
                start * SECOND_NS,
            )
        )
    for i in range(0, len(extra), 20000):
        client.write(("\n".join(extra[i : i + 20000]) + "\n").encode())
    return {"points": points, "total_s": time.perf_counter() - began, "write_s": write_s, "seconds": seconds}


def write_request_run(url: str, run_id: str, requests: int, rate: float) -> dict:
    began = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_check.py"),
            "--points",
            str(requests),
            "--batch",
            "20000",
            "--span-s",
            str(requests / rate),
            "--write-only",
            url,
            run_id,
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if out.returncode:
        raise SystemExit(f"writing the request points failed: {out.stderr.strip().splitlines()[-3:]}")
    wrote = json.loads(out.stdout.strip().splitlines()[-1])
    wrote["total_s"] = time.perf_counter() - began
    return wrote


def time_check(url: str, database: str, run_id: str, repeat: int, work: Path) -> tuple[list[float], dict]:
    times, doc = [], {}
    for i in range(repeat):
        out_dir = work / f"check-{run_id}-{i}"
        began = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "check",
                "--run-id",
                run_id,
                "--influx-url",
                url,
                "--influx-db",
                database,
                "--no-store",
                "--out",
                str(out_dir),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            cwd=work,
            env={k: v for k, v in os.environ.items() if not k.startswith("INFLUX_")}
            | {"THRESHOLDS_FILE": str(ROOT / "baselines.yaml")},
        )
        times.append(time.perf_counter() - began)
        if proc.returncode not in (0, 1, 2) or not (out_dir / "verdict.json").exists():
            raise SystemExit(f"harness check failed: {proc.stderr.strip()[-400:]}")
        doc = json.loads((out_dir / "verdict.json").read_text())
    return times, doc


def check_bench(args) -> int:
    print(f"load average at start: {loadavg()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sketches-") as tmp:
        work = Path(tmp)
        # Compacted as a long run's data would be: the cache goes to TSM files 2 s after the last
        # write, and the shard is fully compacted 5 s after (defaults: 10 min and 4 h).
        os.environ.update(
            INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION="2s",
            INFLUXDB_DATA_COMPACT_FULL_WRITE_COLD_DURATION="5s",
        )
        influxd = LocalInfluxd(work / "influxd", port=0)
        url = influxd.start()
        data_dir = work / "influxd"
        try:
            for size in args.sizes:
                for mode in ("requests", "sketches"):
                    if mode == "requests" and size > args.max_request_points:
                        rows.append({"mode": mode, "requests": size, "written": False})
                        continue
                    database = "bench_check" if mode == "requests" else f"bench_sketch_{size}"
                    client = InfluxClient(InfluxSettings(url=url, database=database))
                    if mode == "requests":
                        client.query_results('DROP DATABASE "bench_check"', method="POST", epoch="")
                    ensure_database(client, "runs")
                    run_id = f"bench-{mode}-{size}"
                    wrote = (
                        write_request_run(url, run_id, size, args.rate)
                        if mode == "requests"
                        else write_sketch_run(client, run_id, size, args.rate, seed=size % 1000)
                    )
                    stored = settled_bytes(data_dir, database)
                    times, doc = time_check(url, database, run_id, args.repeat, work)
                    row = {
                        "mode": mode,
                        "requests": size,
                        "written": True,
                        "points": wrote.get("points") or wrote.get("request_points"),
                        "write_s": round(wrote["total_s"], 1),
                        "check_s": [round(t, 2) for t in times],
                        "check_median_s": round(statistics.median(times), 2),
                        "bytes": stored,
                        "bytes_per_hour": stored * 3600 / (size / args.rate),
                        "counted": doc["completeness"]["stored"] if doc.get("completeness") else None,
                        "verdict": doc["verdict"],
                        "source": doc.get("source", {}).get("points"),
                        "loadavg": loadavg(),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            influxd.stop()
    print()
    print(
        f"RATE {args.rate:g} requests/s; harness check --no-store (CLI) median of {args.repeat}; load average "
        f"at end {loadavg()}"
    )
    print(
        "| requests | run length | mode | points stored | write s | check s (median) | runs (s) | bytes on disk "
        "| per hour at this rate |"
    )
    print("|---:|---:|---|---:|---:|---:|---|---:|---:|")
    measured = {(r["mode"], r["requests"]): r for r in rows if r["written"]}
    for r in rows:
        length = f"{r['requests'] / args.rate:,.0f} s"
        if not r["written"]:
            known = sorted(
                ((n, m) for (mode, n), m in measured.items() if mode == r["mode"]), key=lambda nm: nm[0]
            )
            if not known:
                print(
                    f"| {r['requests']:,} | {length} | {r['mode']} | not written, nothing to extrapolate from | "
                    f"— | — | — | — | — |"
                )
                continue
            n0, m0 = known[-1]
            factor = r["requests"] / n0
            print(
                f"| {r['requests']:,} | {length} | {r['mode']} | {r['requests']:,} (not written) | — | "
                f"~{m0['check_median_s'] * factor:,.0f} (extrapolated ×{factor:g} from {n0:,}) | — | "
                f"~{m0['bytes'] * factor / 1e6:,.0f} MB (extrapolated) | {m0['bytes_per_hour'] / 1e6:,.1f} MB |"
            )
            continue
        print(
            f"| {r['requests']:,} | {length} | {r['mode']} | {r['points']:,} | {r['write_s']} | {r['check_median_s']} | "
            f"{', '.join(map(str, r['check_s']))} | {r['bytes'] / 1e6:,.1f} MB | {r['bytes_per_hour'] / 1e6:,.1f} MB |"
        )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--rate", type=float, default=10_000.0, help="requests per second of the synthetic runs"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--max-request-points",
        type=int,
        default=10_000_000,
        help="larger request-point runs are extrapolated, not written",
    )
    return check_bench(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

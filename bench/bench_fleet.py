"""A fleet of synthetic workers into one master and one influxd: request events fired in-process
(no HTTP, bench/locustfile_fleet.py) at each worker's maximum rate, in each recording mode.

Real Locust: one master and WORKERS worker processes, the listener in each, a private influxd.
Per mode: events per second sustained (Locust's own count from the master's --json-file over the
test's span), InfluxDB points written per second (every measurement of the run, counted in
InfluxDB afterwards), and the CPU of influxd, the master and the workers (psutil, over the steady
part). Every run checks that the stored count (request points, or the sketches' summed counts)
equals Locust's. Loopback only; every run bounded.

    python bench/bench_fleet.py --workers 2 --seconds 20 [--users 10] [--modes requests sketches]
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
from typing import BinaryIO

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.local import LocalInfluxd, free_port

BENCH = Path(__file__).resolve().parent
DATABASE = "bench_fleet"
MEASUREMENTS = ("request", "request_sketch", "request_sketch_fleet", "users", "listener_stats")


def log_file(path: Path) -> BinaryIO:
    """A child's log: open while the child runs, closed with this script."""
    return open(path, "wb")


def cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def one(mode: str, args, url: str, work: Path, influxd_pid: int) -> dict:
    run_id = f"fleet-{mode}-{int(time.time())}"
    port = free_port()
    base = [sys.executable, "-m", "locust", "-f", str(BENCH / "locustfile_fleet.py")]
    json_base = work / f"{mode}-stats"
    master = subprocess.Popen(
        base
        + [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--headless",
            "--expect-workers",
            str(args.workers),
            "-u",
            str(args.users),
            "-r",
            str(args.users),
            "-t",
            f"{args.seconds:g}s",
            "--host",
            "http://127.0.0.1:9",
            "--influx-url",
            url,
            "--influx-db",
            DATABASE,
            "--run-id",
            run_id,
            "--influx-points",
            mode,
            "--json-file",
            str(json_base),
            "--only-summary",
            "--stop-timeout",
            "2",
            "--loglevel",
            "WARNING",
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=log_file(work / f"{mode}-master.log"),
    )
    workers = [
        subprocess.Popen(
            base
            + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=log_file(work / f"{mode}-worker{i}.log"),
        )
        for i in range(args.workers)
    ]
    watched = {
        "influxd": psutil.Process(influxd_pid),
        "master": psutil.Process(master.pid),
        **{f"worker{i}": psutil.Process(w.pid) for i, w in enumerate(workers)},
    }
    started = time.monotonic()
    marks: dict[str, tuple[float, dict[str, float]]] = {}
    deadline = started + args.seconds + 90
    while master.poll() is None and time.monotonic() < deadline:
        elapsed = time.monotonic() - started
        if "from" not in marks and elapsed >= 5:
            marks["from"] = (elapsed, {n: cpu_s(p) for n, p in watched.items()})
        if "to" not in marks and elapsed >= args.seconds:
            marks["to"] = (elapsed, {n: cpu_s(p) for n, p in watched.items()})
        time.sleep(0.25)
    for proc in [master, *workers]:  # workers quit with the master, after their final flush
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    entries = json.loads(json_base.with_suffix(".json").read_text())
    events = sum(e["num_requests"] for e in entries)
    span = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    client = InfluxClient(InfluxSettings(url=url, database=DATABASE))
    where = f"\"run_id\" = '{run_id}'"
    points = {}
    for m in MEASUREMENTS:
        field = {"request": "response_time", "users": "users", "listener_stats": "seen"}.get(m, "count")
        rows = client.query(f'SELECT count("{field}") FROM "{m}" WHERE {where}')
        points[m] = int(rows[0]["values"][0][1]) if rows else 0
    what = (
        'count("response_time") FROM "request"'
        if mode != "sketches"
        else 'sum("count") FROM "request_sketch"'
    )
    rows = client.query(f"SELECT {what} WHERE {where}")
    stored = int(rows[0]["values"][0][1]) if rows else 0
    empty: tuple[float, dict[str, float]] = (0.0, {})
    (t0, c0), (t1, c1) = marks.get("from", empty), marks.get("to", empty)
    cpu = {n: round(100 * (c1[n] - c0[n]) / (t1 - t0), 1) if t1 > t0 else None for n in watched}
    return {
        "mode": mode,
        "events": events,
        "span_s": round(span, 2),
        "events_per_s": round(events / span),
        "points": sum(points.values()),
        "points_per_s": round(sum(points.values()) / span),
        "points_by_measurement": points,
        "stored": stored,
        "exact": stored == events,
        "cpu_percent": cpu,
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--users", type=int, default=10, help="users over all workers (each fires in a loop)")
    parser.add_argument("--modes", nargs="+", default=["requests", "sketches"])
    args = parser.parse_args(argv)
    args.seconds = min(max(args.seconds, 10.0), 120.0)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        url = influxd.start()
        try:
            for mode in args.modes:
                pid = influxd.running_pid()
                assert pid is not None  # started just above
                result = one(mode, args, url, work, pid)
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            influxd.stop()
    print()
    print(f"{args.workers} workers, {args.users} users, {args.seconds:g} s per mode, {os.cpu_count()} CPUs")
    print(
        "| mode | events | events/s | InfluxDB points | points/s | stored = Locust's | influxd CPU % | master CPU % "
        "| workers CPU % | load average after |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---|---:|")
    for r in results:
        workers = ", ".join(str(v) for k, v in r["cpu_percent"].items() if k.startswith("worker"))
        print(
            f"| {r['mode']} | {r['events']:,} | {r['events_per_s']:,} | {r['points']:,} | {r['points_per_s']:,} | "
            f"{'yes' if r['exact'] else 'NO'} | {r['cpu_percent']['influxd']} | {r['cpu_percent']['master']} | "
            f"{workers} | {r['loadavg']} |"
        )
    return 0 if all(r["exact"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

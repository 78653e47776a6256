"""Arrival model: scheduling precision and the scheduler's cost per arrival.

1. Cost (in-process): µs of CPU per arrival for the pure schedule arithmetic (constant and
   Poisson, peek + advance) and for the whole hand-over (scheduler greenlet → pool → one of 50
   waiting user greenlets), the scheduler running flat out behind a rate it cannot reach.
2. Precision (real Locust, real influxd, bench/static_target.py): ``--rate auth=R`` with the
   iteration reduced to one GET (bench/locustfile_arrivals.py). A sweep of short runs with one
   process finds the highest rate one worker sustains (every full 10 s window within ±2 % of
   the target, at most 1 % of arrivals late, none dropped); then 60 s runs at 10/s and at that
   rate, with 1 and 2 processes. Achieved = stored GET /health points from the first arrival
   (the arrivals_start event) over 60 s. With one process Locust runs pinned to CPU 1, the
   target and influxd share CPU 0. Everything stays on 127.0.0.1; every run is bounded.

    python bench/bench_arrivals.py --seconds 60 [--sweep 500 1000 2000 3000 4000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from harness.arrivals.plan import LoadPlan, RateCurve  # noqa: E402
from harness.arrivals.schedule import ConstantSchedule, PoissonSchedule, Split  # noqa: E402
from harness.influx.client import InfluxClient, InfluxSettings  # noqa: E402
from harness.influx.local import LocalInfluxd  # noqa: E402

DATABASE = "bench_arrivals"
WINDOW_S = 10
POOL = 100
SWEEP_SECONDS = 22  # two full 10 s windows after the arrivals begin


# -- 1. cost per arrival --------------------------------------------------------------------------
def schedule_cost_us(kind: str, arrivals: int = 200_000) -> float:
    splits = [Split(0.0, ("a", "b"))]
    curve = RateCurve([(30, 0, 1e6), (1e6, 1e6, 1e6)])  # a ramp, then a hold: the general path
    schedule = (
        PoissonSchedule(curve, "a", splits, random.Random(1))
        if kind == "poisson"
        else ConstantSchedule(curve, "a", splits)
    )
    started = time.process_time()
    for _ in range(arrivals):
        schedule.peek()
        schedule.advance()
    return (time.process_time() - started) / arrivals * 1e6


def handover_cost_us(seconds: float = 2.0, users: int = 50) -> tuple[float, int]:
    """CPU µs per arrival scheduled, handed to a waiting user greenlet and taken by it."""
    import gevent

    from harness.arrivals.engine import ArrivalEngine
    from harness.arrivals.pool import ArrivalPool

    pool = ArrivalPool(max_lateness_s=3600)
    taken = [0]

    def user() -> None:
        while True:
            pool.take()
            taken[0] += 1
            gevent.sleep(0)  # an iteration that yields once, as any request does

    consumers = [gevent.spawn(user) for _ in range(users)]
    plan = LoadPlan(rates={"auth": 5e6})  # far more than one core can schedule: never sleeps
    engine = ArrivalEngine(plan, "w", pool, time.time(), [Split(0.0, ("w",))])
    cpu0 = time.process_time()
    engine.start()
    gevent.sleep(seconds)
    engine.stop()
    cpu = time.process_time() - cpu0
    gevent.killall(consumers)
    return cpu / max(taken[0], 1) * 1e6, taken[0]


# -- 2. precision with real Locust -----------------------------------------------------------------
def start_target(work: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "static_target.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=open(work / "target.log", "wb"),  # noqa: SIM115 - the child keeps it
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: _pin(0),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("static target listening on "):
        proc.kill()
        raise SystemExit(f"static target did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1]


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def run_locust(
    rate: float, processes: int, seconds: float, host: str, influx_url: str, work: Path, run_id: str
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(BENCH / "locustfile_arrivals.py"),
        "--headless",
        "-u",
        str(POOL),
        "-r",
        str(POOL),
        "-t",
        f"{seconds:g}s",
        "--host",
        host,
        "--rate",
        f"auth={rate:g}",
        "--influx-url",
        influx_url,
        "--influx-db",
        DATABASE,
        "--run-id",
        run_id,
        "--test-env",
        "bench",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "2",
    ]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    pin = (lambda: _pin(1)) if processes == 1 else None
    env = {
        k: v for k, v in os.environ.items() if k not in ("RATES", "ARRIVALS", "RATE_PROFILE", "MAX_LATENESS")
    }
    with open(work / f"{run_id}.log", "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=work,
            preexec_fn=pin,
            env=env,
        )
        try:
            proc.wait(timeout=seconds + 90)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    if proc.returncode not in (0, 1):
        tail = (work / f"{run_id}.log").read_text(errors="replace").splitlines()[-5:]
        raise SystemExit(f"Locust ({run_id}) exited {proc.returncode}: " + " | ".join(tail))


def measure(client: InfluxClient, run_id: str, rate: float, span_s: float) -> dict:
    where = f"\"run_id\" = '{run_id}'"
    start = client.query(f'SELECT "title" FROM "runs"."events" WHERE {where} AND "type" = \'arrivals_start\'')
    start_ns = int(start[0]["values"][0][0])
    stop = client.query(f'SELECT "title" FROM "runs"."events" WHERE {where} AND "type" = \'stopping\'')
    end_ns = min(int(stop[0]["values"][0][0]), start_ns + int(span_s * 1e9))
    span = (end_ns - start_ns) / 1e9
    step = int(WINDOW_S * 1e9)
    statements = [
        f'SELECT count("response_time") FROM "request" WHERE {where} AND "name" = \'/health\' '
        f"AND time >= {start_ns} AND time < {end_ns}"
    ]
    statements += [
        f'SELECT count("response_time") FROM "request" WHERE {where} AND "name" = \'/health\' '
        f"AND time >= {a} AND time < {a + step}"
        for a in range(start_ns, end_ns - step + 1, step)
    ]
    statements.append(
        f'SELECT sum("scheduled"), sum("late"), sum("dropped"), max("max_lag_ms") FROM "arrivals" '
        f"WHERE {where} AND time >= {start_ns} AND time <= {end_ns + step // 10}"
    )
    statements.append(
        f'SELECT max("loop_lag_ms"), mean("cpu_percent") FROM "users" WHERE {where} '
        f"AND time >= {start_ns} AND time <= {end_ns}"
    )
    results = client.query_results("; ".join(statements))
    value = lambda r, i=1: (r["series"][0]["values"][0][i] if r.get("series") else 0) or 0  # noqa: E731
    total = value(results[0])
    windows = [value(r) / WINDOW_S for r in results[1:-2]]
    arrivals, users = results[-2], results[-1]
    scheduled = value(arrivals, 1)
    return {
        "rate": rate,
        "seconds": round(span, 2),
        "achieved_per_s": round(total / span, 3),
        "achieved_ratio": round(total / (rate * span), 5),
        "window_min": min(windows) if windows else None,
        "window_max": max(windows) if windows else None,
        "scheduled": scheduled,
        "late": value(arrivals, 2),
        "dropped": value(arrivals, 3),
        "max_lag_ms": round(value(arrivals, 4), 1),
        "max_loop_lag_ms": round(value(users, 1), 1),
        "mean_cpu_pct": round(value(users, 2), 1),
    }


def sustained(m: dict) -> bool:
    lo, hi = m["rate"] * 0.98, m["rate"] * 1.02
    return (
        m["window_min"] is not None
        and lo <= m["window_min"]
        and m["window_max"] <= hi
        and m["dropped"] == 0
        and m["late"] <= 0.01 * max(m["scheduled"], 1)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured span of the long runs (20–120)")
    parser.add_argument(
        "--sweep",
        type=float,
        nargs="+",
        default=[500, 1000, 2000, 3000, 4000],
        help="rates tried (one process, short runs) to find the highest sustained one",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    args.seconds = min(max(args.seconds, 20.0), 120.0)

    results: dict = {"cost_us": {kind: round(schedule_cost_us(kind), 2) for kind in ("constant", "poisson")}}
    handover_us, handed = handover_cost_us()
    results["cost_us"]["handover"] = round(handover_us, 2)
    results["cost_us"]["handover_arrivals"] = handed
    print(
        f"cost per arrival: schedule constant {results['cost_us']['constant']} µs, poisson "
        f"{results['cost_us']['poisson']} µs; scheduler + pool hand-over {handover_us:.1f} µs "
        f"({handed} arrivals)",
        file=sys.stderr,
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="bench-arrivals-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        influx_url = influxd.start()
        target, host = start_target(work)
        client = InfluxClient(InfluxSettings(url=influx_url, database=DATABASE))
        try:
            _pin_influxd(influxd)
            sweep, best = [], None
            for rate in sorted(args.sweep):
                run_id = f"sweep-{rate:g}"
                run_locust(rate, 1, SWEEP_SECONDS + 3, host, influx_url, work, run_id)
                m = measure(client, run_id, rate, SWEEP_SECONDS)
                m["sustained"] = sustained(m)
                sweep.append(m)
                print(f"sweep {rate:g}/s: {m}", file=sys.stderr, flush=True)
                if not m["sustained"]:
                    break
                best = rate
            results["sweep"] = sweep
            results["highest_sustained_per_s"] = best
            long_runs = []
            for rate in [10.0] + ([best] if best else []):
                for processes in (1, 2):
                    run_id = f"long-{rate:g}-{processes}p"
                    run_locust(rate, processes, args.seconds + 4, host, influx_url, work, run_id)
                    m = measure(client, run_id, rate, args.seconds)
                    m["processes"] = processes
                    long_runs.append(m)
                    print(f"{processes} process(es) at {rate:g}/s: {m}", file=sys.stderr, flush=True)
            results["long"] = long_runs
        finally:
            target.terminate()
            target.wait(timeout=10)
            influxd.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(_table(results))
    return 0


def _pin_influxd(influxd: LocalInfluxd) -> None:
    pid = influxd.running_pid()
    if pid and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {0})


def _table(results: dict) -> str:
    lines = [
        "| processes | target/s | seconds | achieved/s | achieved/target | 10 s windows min–max /s | late | "
        "dropped | max lag ms | max loop lag ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in results.get("long", []):
        lines.append(
            f"| {m['processes']} | {m['rate']:g} | {m['seconds']} | {m['achieved_per_s']} | "
            f"{m['achieved_ratio']} | {m['window_min']:g}–{m['window_max']:g} | {m['late']} | "
            f"{m['dropped']} | {m['max_lag_ms']} | {m['max_loop_lag_ms']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The check over 1,000,000 points: ``harness check`` against one raw InfluxQL percentile query.

One invocation starts a real influxd and writes two runs the way the listener makes them
(``RequestRecorder`` lines: 8 endpoints over the 3 APIs, lognormal response times, 2 %
failures, 4 workers, one ``listener_stats`` point per worker with matching ``seen``, ``users``
every second, spread over 10 minutes): a baseline, judged and stored once (its ``run_summary``
with per-window spreads), and the run under test. Then, interleaved, ``--repeat`` times:

- the raw query ``SELECT percentile("response_time", 95) FROM "request" WHERE "run_id" = '…'
  GROUP BY "name"``;
- ``harness check --run-id … --baseline BASE --no-store --out <tmp>`` as a subprocess: p50, p95,
  p99 per endpoint and API group, their per-window spreads, and the comparison with the baseline;
- ``judge(...)`` in this process, and its parts (reading the raw values, computing);
- the statements the check sent before (one ``PERCENTILE`` pass per statistic, concurrently).

It then checks that every percentile equals InfluxDB's ``PERCENTILE`` over the printed window to
0.01 ms and that the window's count equals the verdict's. The goal is check <= 2 × the raw query.
Everything stays on 127.0.0.1.

    python bench/bench_check.py --points 1000000 --repeat 5 [--batch 20000]
"""

from __future__ import annotations

if __name__ == "__main__":
    import sys

    if "--write-only" in sys.argv:
        # The writer child uses the listener's own recorder, whose package imports Locust;
        # Locust's gevent patching must precede requests' import of ssl, as in a locustfile.
        import locust  # noqa: F401

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from harness.influx.client import InfluxClient, InfluxSettings, quote_string
from harness.influx.local import LocalInfluxd
from harness.verdict.model import Samples

BENCH = Path(__file__).resolve().parent
BASELINES = BENCH.parent / "baselines.yaml"
DATABASE = "bench_check"
GOAL_FACTOR = 2.0
WORKERS = 4
SPAN_S = 600.0
FAILURE_RATE = 0.02
# (method, name, weight, median ms, ok status): a mix like the scenarios', polling heaviest.
ENDPOINTS = [
    ("GET", "/health", 10, 3.0, 200),
    ("POST", "/api/v1/auth/register", 2, 60.0, 201),
    ("POST", "/api/v1/auth/login", 8, 40.0, 200),
    ("POST", "/api/v1/generations", 10, 120.0, 202),
    ("GET", "/api/v1/generations/[id]", 40, 15.0, 200),
    ("GET", "/api/v1/generations", 10, 30.0, 200),
    ("POST", "/api/v1/payments", 10, 80.0, 201),
    ("GET", "/api/v1/payments", 10, 25.0, 200),
]
FAILURES = [  # (status, exception) as Locust reports them
    (500, Exception("500 Server Error: INTERNAL SERVER ERROR for url: {name}")),
    (503, Exception("503 Server Error: SERVICE UNAVAILABLE for url: {name}")),
    (429, Exception("429 Client Error: TOO MANY REQUESTS for url: {name}")),
    (0, ConnectionResetError(104, "Connection reset by peer")),
]


# -- the writer child ----------------------------------------------------------------------------
def write_points(url: str, run_id: str, points: int, batch: int, seed: int, span_s: float = SPAN_S) -> dict:
    """Generate and write the run; returns counts and timings (runs in the --write-only child).
    bench_abort.py writes runs of other lengths with ``--span-s``."""
    from harness.influx.lineprotocol import make_line
    from harness.influx.schema import ensure_database
    from harness.listener.recorder import RequestRecorder

    client = InfluxClient(InfluxSettings(url=url, database=DATABASE))
    ensure_database(client, "runs")
    rng = random.Random(seed)
    weights = [e[2] for e in ENDPOINTS]
    end = time.time() - 60  # inside the database's 30-day retention, and in the past
    start = end - span_s
    per_worker = [points // WORKERS + (1 if i < points % WORKERS else 0) for i in range(WORKERS)]
    generate_s = write_s = 0.0
    lines_written = 0
    for w, count in enumerate(per_worker):
        worker = f"bench-worker-{w + 1}"
        recorder = RequestRecorder(run_id, "bench", worker)
        gap = span_s / count
        t = start + rng.random() * gap
        for first in range(0, count, batch):
            began = time.perf_counter()
            for _ in range(min(batch, count - first)):
                method, name, _w, median, ok_status = rng.choices(ENDPOINTS, weights)[0]
                response_time = rng.lognormvariate(math.log(median), 0.6)
                if rng.random() < FAILURE_RATE:
                    status, exc = rng.choice(FAILURES)
                    recorder.record(
                        method,
                        name,
                        response_time,
                        0,
                        type(exc)(*[str(a).format(name=name) for a in exc.args]),
                        t,
                        SimpleNamespace(status_code=status),
                    )
                else:
                    recorder.record(
                        method,
                        name,
                        response_time,
                        rng.randint(80, 2000),
                        None,
                        t,
                        SimpleNamespace(status_code=ok_status),
                    )
                t += rng.expovariate(1.0 / gap)
            lines = recorder.take()
            generate_s += time.perf_counter() - began
            began = time.perf_counter()
            client.write(("\n".join(lines) + "\n").encode())
            write_s += time.perf_counter() - began
            lines_written += len(lines)
        # What the listener adds beside the requests: users every second, its counts at the end.
        extra = [
            make_line(
                "users",
                {"run_id": run_id, "test_env": "bench", "worker": worker},
                {"users": 25, "cpu_percent": rng.uniform(40, 70)},
                int((start + s) * 1e9) + w,
            )
            for s in range(int(span_s) + 1)
        ]
        extra.append(
            make_line(
                "listener_stats",
                {"run_id": run_id, "test_env": "bench", "worker": worker},
                {
                    "seen": recorder.seen,
                    "written": recorder.seen,
                    "retried": 0,
                    "dropped": 0,
                    "pending": 0,
                    "final": True,
                },
                int(start * 1e9),
            )
        )
        client.write(("\n".join(extra) + "\n").encode())
    return {"request_points": lines_written, "generate_s": generate_s, "write_s": write_s}


# -- timing helpers ------------------------------------------------------------------------------
def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def percentile_passes(where: str) -> list[str]:
    """What measure.py sent before it read raw values: one PERCENTILE pass per statistic (p50, p95,
    p99 by endpoint, p95 by API group) plus count/max and failures, as concurrent requests."""
    endpoint, api = 'GROUP BY "api", "method", "name"', 'GROUP BY "api"'
    counts = 'count("response_time") AS "requests", max("response_time") AS "max"'
    return (
        [f'SELECT {counts}, percentile("response_time", 50) FROM "request" WHERE {where} {endpoint}']
        + [
            f'SELECT percentile("response_time", {p}) FROM "request" WHERE {where} {endpoint}'
            for p in (95, 99)
        ]
        + [
            f'SELECT {counts} FROM "request" WHERE {where} {api}',
            f'SELECT percentile("response_time", 95) FROM "request" WHERE {where} {api}',
            f'SELECT count("response_time") FROM "request" WHERE {where} AND "result" = \'fail\' {endpoint}',
        ]
    )


def run_plan(settings: InfluxSettings, statements: list[str]) -> None:
    # A client per request: requests.Session is not documented as thread-safe.
    with ThreadPoolExecutor(len(statements)) as pool:
        list(pool.map(lambda sql: InfluxClient(settings).query_results(sql), statements))


def agreement(client: InfluxClient, run_id: str, doc: dict) -> tuple[int, float]:
    """(checked values, largest difference in ms) between verdict.json's percentiles and
    InfluxDB's PERCENTILE over the window verdict.json prints; the window's count must match."""
    window = f"time >= '{doc['window']['start']}' AND time <= '{doc['window']['end']}'"
    where = f'"run_id" = {quote_string(run_id)} AND {window}'
    checked, worst = 0, 0.0
    for group, scopes in (('"api", "method", "name"', doc["endpoints"]), ('"api"', doc["apis"])):
        series = client.query(
            f'SELECT count("response_time"), percentile("response_time", 50), '
            f'percentile("response_time", 95), percentile("response_time", 99) '
            f'FROM "request" WHERE {where} GROUP BY {group}'
        )
        for s in series:
            t = s["tags"]
            key = f"{t['method']} {t['name']}" if "name" in t else t["api"]
            row = s["values"][0]
            if row[1] != scopes[key]["requests"]:
                raise SystemExit(
                    f"{key}: {row[1]} points in the printed window, the verdict counted "
                    f"{scopes[key]['requests']}"
                )
            for value, name in zip(row[2:], ("p50", "p95", "p99")):
                worst = max(worst, abs(value - scopes[key][name]))
                checked += 1
    return checked, worst


def write_run(url: str, run_id: str, args) -> dict:
    began = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--points",
            str(args.points),
            "--batch",
            str(args.batch),
            "--seed",
            str(args.seed + (0 if run_id.endswith("base") else 1)),
            "--write-only",
            url,
            run_id,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode:
        raise SystemExit(f"writing the points failed: {out.stderr.strip().splitlines()[-1:]}")
    wrote = json.loads(out.stdout.strip().splitlines()[-1])
    wrote["total_s"] = time.perf_counter() - began
    return wrote


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--points", type=int, default=1_000_000, help="request points to write (max 2,000,000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each timing (min 3)")
    parser.add_argument("--batch", type=int, default=20_000, help="lines per write (10k–50k)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-only", nargs=2, metavar=("URL", "RUN_ID"), help=argparse.SUPPRESS)
    parser.add_argument("--span-s", type=float, default=SPAN_S, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # The writer child also serves bench_sketches.py's larger runs (written, not timed here).
    most = 20_000_000 if args.write_only else 2_000_000
    if not 1 <= args.points <= most or not 1000 <= args.batch <= 100_000:
        parser.error(f"--points must be 1..{most:,} and --batch 1,000..100,000")
    if args.write_only:
        url, run_id = args.write_only
        print(json.dumps(write_points(url, run_id, args.points, args.batch, args.seed, args.span_s)))
        return 0
    args.repeat = max(3, args.repeat)
    stamp = int(time.time())
    run_id, base_id = f"bench-check-{stamp}", f"bench-check-{stamp}-base"
    loadavg = [" ".join(Path("/proc/loadavg").read_text().split()[:3])]

    from harness.rundata import store_verdict
    from harness.verdict.decide.estimate import stats_of
    from harness.verdict.judge import judge
    from harness.verdict.reads.measure import READ_PARTS, judged_window, run_bounds
    from harness.verdict.reads.samples import read_samples
    from harness.verdict.rules.thresholds import load_thresholds

    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        url = influxd.start()
        try:
            wrote = write_run(url, run_id, args)
            write_run(url, base_id, args)
            client = InfluxClient(InfluxSettings(url=url, database=DATABASE, timeout_s=60))
            where = f'"run_id" = {quote_string(run_id)}'
            stored = int(
                client.query(f'SELECT count("response_time") FROM "request" WHERE {where}')[0]["values"][0][1]
            )
            if stored != args.points:
                raise SystemExit(
                    f"{stored} of {args.points} points stored: timestamps collided or writes failed"
                )
            thresholds = load_thresholds(BASELINES)
            target = thresholds.generation.target_per_s
            base, _ = judge(client, base_id, thresholds, work / "out-base", generation_target=target)
            store_verdict(client, "runs", base)  # its run_summary, with the spreads a baseline needs
            loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))

            first_ns, last_ns, _ = run_bounds(client, run_id)
            start_ns, end_ns, _ = judged_window(first_ns, last_ns, thresholds.warmup_s)
            window_where = f"{where} AND time >= {start_ns} AND time <= {end_ns}"
            raw_sql = f'SELECT percentile("response_time", 95) FROM "request" WHERE {where} GROUP BY "name"'
            check_cmd = [
                sys.executable,
                "-m",
                "harness.cli",
                "check",
                "--run-id",
                run_id,
                "--baseline",
                base_id,
                "--no-store",
                "--out",
                str(work / "out-cli"),
                "--influx-url",
                url,
                "--influx-db",
                DATABASE,
                "--thresholds-file",
                str(BASELINES),
            ]
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("INFLUX_", "THRESHOLDS_", "OUT_DIR"))
            }
            results: list[subprocess.CompletedProcess] = []

            def cli() -> None:
                # cwd: an empty folder, so no .env.load-testing from the caller's checkout applies
                results.append(
                    subprocess.run(check_cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp)
                )

            def read() -> None:
                samples.append(read_samples(client, run_id, start_ns, end_ns, parts=READ_PARTS))

            def compute() -> None:
                by_api: dict[str, list] = {}
                for (api, _m, _n), part in samples[-1].items():
                    stats_of(part, (end_ns - start_ns) / 1e9, thresholds.regression.windows)
                    by_api.setdefault(api, []).append(part)
                for parts in by_api.values():
                    stats_of(
                        parts[0] if len(parts) == 1 else Samples.joined(parts),
                        1.0,
                        thresholds.regression.windows,
                    )

            samples: list = []
            timings: dict[str, list[float]] = {label: [] for label in TIMED}
            steps = {
                "raw": lambda: client.query(raw_sql),
                "check": cli,
                "judge": lambda: judge(
                    client, run_id, thresholds, work / "out-judge", generation_target=target, baseline=base_id
                ),
                "read": read,
                "compute": compute,
                "passes": lambda: run_plan(client.settings, percentile_passes(window_where)),
                "startup": lambda: subprocess.run(
                    [sys.executable, "-m", "harness.cli", "check", "--help"],
                    capture_output=True,
                    timeout=60,
                    cwd=tmp,
                ),
            }
            for _ in range(args.repeat):  # interleaved, so a busy neighbour slows every kind alike
                for label, step in steps.items():
                    timings[label] += timed(step, 1)
            loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
            doc = json.loads((work / "out-cli" / "verdict.json").read_text())
            checked, worst = agreement(client, run_id, doc)
        finally:
            influxd.stop()
    loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))

    raw_m = statistics.median(timings["raw"])
    print(
        f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {sys.version.split()[0]}, "
        f"influxd {_influxd_version()}"
    )
    print(
        f"points: {args.points} request points per run ({WORKERS} workers, {len(ENDPOINTS)} endpoints, "
        f"{FAILURE_RATE:.0%} failures, {SPAN_S:.0f} s) + {WORKERS * (int(SPAN_S) + 1)} users + "
        f"{WORKERS} listener_stats; two runs (baseline, run); one written in batches of {args.batch} in "
        f"{wrote['total_s']:.1f} s; stored {stored}"
    )
    print(
        f"load average: start {loadavg[0]} / after writing {loadavg[1]} / after timing {loadavg[2]} "
        f"/ end {loadavg[3]}"
    )
    comparisons = doc["comparisons"]
    print(
        f"check verdict: {doc['verdict']} (CLI exit codes {sorted({r.returncode for r in results})}); "
        f"{len(comparisons)} comparisons with the baseline: "
        + ", ".join(
            f"{sum(c['decision'] == d for c in comparisons)} {d}"
            for d in ("regressed", "no change", "improved", "inconclusive")
        )
    )
    print(
        f"percentiles against InfluxDB's PERCENTILE over the printed window: {checked} values, largest "
        f"difference {worst:.6f} ms; every scope's count equal"
    )
    print()
    print("| what | median | runs (s) | × raw query |")
    print("|---|---:|---|---:|")
    for label, runs in timings.items():
        m = statistics.median(runs)
        print(f"| {TIMED[label]} | {m:.2f} s | {', '.join(f'{r:.2f}' for r in runs)} | {m / raw_m:.2f} |")
    ratio = statistics.median(timings["check"]) / raw_m
    print()
    print(
        f"check / raw query: {ratio:.2f}× (subprocess), {statistics.median(timings['judge']) / raw_m:.2f}× "
        f"(in-process); goal <= {GOAL_FACTOR:g}×: {'met' if ratio <= GOAL_FACTOR else 'MISSED'}"
    )
    return 0 if ratio <= GOAL_FACTOR and worst <= 0.01 else 1


TIMED = {
    "raw": 'raw InfluxQL: `percentile("response_time", 95) … GROUP BY "name"`',
    "check": "`harness check --baseline BASE --no-store` (subprocess)",
    "judge": "`judge(...)` with the baseline, in-process",
    "read": "· reading the raw values (`read_samples`, the judged window, 2 slices at once)",
    "compute": "· every percentile and spread from them (`stats_of`, endpoints and groups)",
    "passes": "before: one PERCENTILE pass per statistic, 6 requests at once",
    "startup": "`harness.cli check --help` (interpreter + imports only)",
}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _influxd_version() -> str:
    try:
        out = subprocess.run(["influxd", "version"], capture_output=True, text=True, timeout=10).stdout
        return out.strip().split(" (")[0].replace("InfluxDB ", "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

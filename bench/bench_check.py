"""The check over 1,000,000 points: ``harness check`` against one raw InfluxQL percentile query.

One invocation starts a real influxd, writes one run's points the way the listener makes them
(``RequestRecorder`` lines: 8 endpoints over the 3 APIs, lognormal response times, 2 %
failures, 4 workers, one ``listener_stats`` point per worker with matching ``seen``, ``users``
every second, spread over 10 minutes), then times, each ``--repeat`` times:

- the raw query ``SELECT percentile("response_time", 95) FROM "request" WHERE "run_id" = '…'
  GROUP BY "name"``;
- ``harness check --run-id … --no-store --out <tmp>`` as a subprocess;
- ``judge(...)`` in this process;

and then every InfluxQL statement the check sends, alone. The goal is check <= 2 × the raw
query. Everything stays on 127.0.0.1.

    python bench/bench_check.py --points 1000000 --repeat 3 [--batch 20000]
"""

from __future__ import annotations

if __name__ == "__main__":
    import sys

    if "--write-only" in sys.argv:
        # The writer child uses the listener's own recorder, whose package imports Locust;
        # Locust's gevent patching must precede requests' import of ssl, as in a locustfile.
        import locust  # noqa: F401

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from harness.influx.client import InfluxClient, InfluxSettings, quote_string  # noqa: E402
from harness.influx.local import LocalInfluxd  # noqa: E402

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
                    recorder.record(method, name, response_time, 0,
                                    type(exc)(*[str(a).format(name=name) for a in exc.args]), t,
                                    SimpleNamespace(status_code=status))
                else:
                    recorder.record(method, name, response_time, rng.randint(80, 2000), None, t,
                                    SimpleNamespace(status_code=ok_status))
                t += rng.expovariate(1.0 / gap)
            lines = recorder.take()
            generate_s += time.perf_counter() - began
            began = time.perf_counter()
            client.write(("\n".join(lines) + "\n").encode())
            write_s += time.perf_counter() - began
            lines_written += len(lines)
        # What the listener adds beside the requests: users every second, its counts at the end.
        extra = [make_line("users", {"run_id": run_id, "test_env": "bench", "worker": worker},
                           {"users": 25, "cpu_percent": rng.uniform(40, 70)}, int((start + s) * 1e9) + w)
                 for s in range(int(span_s) + 1)]
        extra.append(make_line("listener_stats", {"run_id": run_id, "test_env": "bench", "worker": worker},
                               {"seen": recorder.seen, "written": recorder.seen, "retried": 0, "dropped": 0,
                                "pending": 0, "final": True}, int(start * 1e9)))
        client.write(("\n".join(extra) + "\n").encode())
    return {"request_points": lines_written, "generate_s": generate_s, "write_s": write_s}


# -- timing helpers ------------------------------------------------------------------------------
class TimedClient(InfluxClient):
    """An InfluxClient that notes how long each /query call took (for the breakdown)."""

    def __init__(self, settings: InfluxSettings):
        super().__init__(settings)
        self.calls: list[tuple[str, float]] = []

    def query_results(self, influxql: str, **kwargs):
        began = time.perf_counter()
        try:
            return super().query_results(influxql, **kwargs)
        finally:
            self.calls.append((influxql, time.perf_counter() - began))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def query_plans(where: str) -> dict[str, list[str]]:
    """Other ways to get the same (or part of the) numbers: each plan's statements are sent as
    concurrent requests, one statement per request, unless joined by '; ' into one request."""
    endpoint, api = 'GROUP BY "api", "method", "name"', 'GROUP BY "api"'
    stats = ('count("response_time") AS "requests", percentile("response_time", 50) AS "p50", '
             'percentile("response_time", 95) AS "p95", percentile("response_time", 99) AS "p99", '
             'max("response_time") AS "max"')

    def pct(p: int, group: str) -> str:
        return f'SELECT percentile("response_time", {p}) FROM "request" WHERE {where} {group}'

    def cheap(group: str) -> str:
        return f'SELECT count("response_time"), max("response_time") FROM "request" WHERE {where} {group}'

    s_end, s_api = (f'SELECT {stats} FROM "request" WHERE {where} {g}' for g in (endpoint, api))
    return {
        "as measure.py: STATS by endpoint; STATS by api (one request)": [f"{s_end}; {s_api}"],
        "STATS by endpoint ‖ STATS by api (2 requests at once)": [s_end, s_api],
        "p50, p95, p99 × endpoint, api: 6 requests at once, + count/max":
            [pct(p, g) for p in (50, 95, 99) for g in (endpoint, api)] + [cheap(endpoint), cheap(api)],
        "p50, p95, p99 by endpoint + p95 by api: 4 requests at once, + count/max":
            [pct(p, endpoint) for p in (50, 95, 99)] + [pct(95, api), cheap(endpoint), cheap(api)],
        "p95 by endpoint; p95 by api (one request)": [f"{pct(95, endpoint)}; {pct(95, api)}"],
        "p95 by endpoint ‖ p95 by api (2 requests at once)": [pct(95, endpoint), pct(95, api)],
        "count + max by endpoint; by api (no percentile)": [f"{cheap(endpoint)}; {cheap(api)}"],
    }


def run_plan(settings: InfluxSettings, statements: list[str]) -> None:
    # A client per request: requests.Session is not documented as thread-safe.
    with ThreadPoolExecutor(len(statements)) as pool:
        list(pool.map(lambda sql: InfluxClient(settings).query_results(sql), statements))


def shorten(statement: str, run_id: str) -> str:
    text = " ".join(statement.split()).replace(quote_string(run_id), "'RUN'")
    for long, short in (('count("response_time") AS "requests", percentile("response_time", 50) AS "p50", '
                         'percentile("response_time", 95) AS "p95", percentile("response_time", 99) AS "p99", '
                         'max("response_time") AS "max"', "STATS"),):
        text = text.replace(long, short)
    return re.sub(r"time >= \d+ AND time <= \d+", "time >= START AND time <= END", text)


def calls_window(calls: list[tuple[str, float]]) -> str:
    """The judged window as measure.py wrote it (``time >= … AND time <= …``)."""
    for sql, _ in calls:
        found = re.search(r"time >= \d+ AND time <= \d+", sql)
        if found:
            return found.group(0)
    raise SystemExit("judge() sent no windowed statement; measure.py changed shape")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="request points to write (max 2,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each timing (min 3)")
    parser.add_argument("--batch", type=int, default=20_000, help="lines per write (10k–50k)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-only", nargs=2, metavar=("URL", "RUN_ID"), help=argparse.SUPPRESS)
    parser.add_argument("--span-s", type=float, default=SPAN_S, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.points <= 2_000_000 or not 1000 <= args.batch <= 100_000:
        parser.error("--points must be 1..2,000,000 and --batch 1,000..100,000")
    if args.write_only:
        print(json.dumps(write_points(*args.write_only, args.points, args.batch, args.seed, args.span_s)))
        return 0
    args.repeat = max(3, args.repeat)
    run_id = f"bench-check-{int(time.time())}"
    loadavg = [" ".join(Path("/proc/loadavg").read_text().split()[:3])]

    from harness.verdict.judge import judge
    from harness.verdict.thresholds import load_thresholds

    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        url = influxd.start()
        try:
            began = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--points", str(args.points), "--batch", str(args.batch),
                                  "--seed", str(args.seed), "--write-only", url, run_id],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                raise SystemExit(f"writing the points failed: {out.stderr.strip().splitlines()[-1:]}")
            wrote = json.loads(out.stdout.strip().splitlines()[-1])
            wrote["total_s"] = time.perf_counter() - began
            client = TimedClient(InfluxSettings(url=url, database=DATABASE))
            where = f'"run_id" = {quote_string(run_id)}'
            stored = int(client.query(f'SELECT count("response_time") FROM "request" WHERE {where}')[0]["values"][0][1])
            if stored != args.points:
                raise SystemExit(f"{stored} of {args.points} points stored: timestamps collided or writes failed")
            loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))

            raw_sql = f'SELECT percentile("response_time", 95) FROM "request" WHERE {where} GROUP BY "name"'
            raw = timed(lambda: client.query(raw_sql), args.repeat)

            check_cmd = [sys.executable, "-m", "harness.cli", "check", "--run-id", run_id, "--no-store",
                         "--out", str(work / "out-cli"), "--influx-url", url, "--influx-db", DATABASE,
                         "--thresholds-file", str(BASELINES)]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUX_", "THRESHOLDS_", "OUT_DIR"))}
            results: list[subprocess.CompletedProcess] = []

            def cli() -> None:
                # cwd: an empty folder, so no .env.load-testing from the caller's checkout applies
                results.append(subprocess.run(check_cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp))

            check = timed(cli, args.repeat)
            startup = timed(lambda: subprocess.run([sys.executable, "-m", "harness.cli", "check", "--help"],
                                                   capture_output=True, timeout=60, cwd=tmp), args.repeat)
            thresholds = load_thresholds(BASELINES)
            judged = timed(lambda: judge(client, run_id, thresholds, work / "out-judge",
                                         generation_target=thresholds.generation.target_per_s),
                           args.repeat)
            loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))

            # Each call judge() made, then each of its statements alone.
            client.calls.clear()
            verdict, _ = judge(client, run_id, thresholds, work / "out-judge",
                               generation_target=thresholds.generation.target_per_s)
            calls = list(client.calls)
            statements = [s for sql, _ in calls for s in sql.split("; ")]
            alone = [(s, timed(lambda s=s: client.query_results(s), args.repeat)) for s in statements]
            window = calls_window(calls)
            plans = {label: timed(lambda sql=sql: run_plan(client.settings, sql), args.repeat)
                     for label, sql in query_plans(f"{where} AND {window}").items()}
        finally:
            influxd.stop()
    loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))

    raw_m, check_m, judge_m = (statistics.median(x) for x in (raw, check, judged))
    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {sys.version.split()[0]}, "
          f"influxd {_influxd_version()}")
    print(f"points: {args.points} request points ({WORKERS} workers, {len(ENDPOINTS)} endpoints, "
          f"{FAILURE_RATE:.0%} failures, {SPAN_S:.0f} s) + {WORKERS * (int(SPAN_S) + 1)} users + "
          f"{WORKERS} listener_stats; written in batches of {args.batch} in {wrote['total_s']:.1f} s "
          f"(generate {wrote['generate_s']:.1f} s, /write {wrote['write_s']:.1f} s); stored {stored}")
    print(f"load average: start {loadavg[0]} / after writing {loadavg[1]} / after timing {loadavg[2]} "
          f"/ end {loadavg[3]}")
    print(f"check verdict: {verdict.verdict} (CLI exit codes {sorted({r.returncode for r in results})}; "
          f"first line: {results[-1].stdout.splitlines()[0] if results[-1].stdout else results[-1].stderr.strip()})")
    print()
    print("| what | median | runs (s) | × raw query |")
    print("|---|---:|---|---:|")
    for label, runs in (("raw InfluxQL: percentile 95 GROUP BY name", raw),
                        ("`harness check --no-store` (subprocess)", check),
                        ("`judge(...)` in-process", judged),
                        ("`harness.cli check --help` (interpreter + imports only)", startup)):
        m = statistics.median(runs)
        print(f"| {label} | {m:.2f} s | {', '.join(f'{r:.2f}' for r in runs)} | {m / raw_m:.1f} |")
    print()
    print("Where judge() spends its time: each /query call (one run), then each statement alone "
          f"(median of {args.repeat}):")
    print()
    print("| call | statements | seconds |")
    print("|---:|---:|---:|")
    for i, (sql, seconds) in enumerate(calls, 1):
        print(f"| {i} | {len(sql.split('; '))} | {seconds:.2f} |")
    print(f"| all | | {sum(s for _, s in calls):.2f} |")
    print()
    print("| statement alone | median s | × raw query |")
    print("|---|---:|---:|")
    for statement, runs in alone:
        m = statistics.median(runs)
        print(f"| `{shorten(statement, run_id)}` | {m:.2f} | {m / raw_m:.1f} |")
    print()
    print("Other query plans for the same statistics (same window; ‖ = concurrent requests):")
    print()
    print("| plan | median s | runs (s) | × raw query |")
    print("|---|---:|---|---:|")
    for label, runs in plans.items():
        m = statistics.median(runs)
        print(f"| {label} | {m:.2f} | {', '.join(f'{r:.2f}' for r in runs)} | {m / raw_m:.1f} |")
    ratio = check_m / raw_m
    print()
    print(f"check / raw query: {ratio:.1f}× (subprocess), {judge_m / raw_m:.1f}× (in-process); "
          f"goal <= {GOAL_FACTOR:g}×: {'met' if ratio <= GOAL_FACTOR else 'MISSED'}")
    return 0 if ratio <= GOAL_FACTOR else 1


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

"""The live checks' cost (``--abort-on-fail``): InfluxDB's time per check, and Locust's CPU.

Part 1, InfluxDB. A real influxd holds two runs written as bench_check.py writes them
(listener lines, 8 endpoints over 3 APIs, 4 workers, 2 % failures) at the same rate, one
10 minutes and one 60 minutes long. On each, one live check — ``measure_window`` over the
trailing 30 s, as the master sends it — is timed ``--repeat`` times with the default checks
(success_rate, p95) and with every check (success_rate, p50, p95, p99, max, rps, cpu); beside
it, ``measure()`` of the whole run, which is what judging "the run so far" every few seconds
would cost. influxd's CPU per check comes from psutil, the caller's (what a check costs the
Locust process: decoding the answer and judging it) from ``time.process_time``.

Part 2, Locust. Plain Locust with the listener (bench/locustfile_abort.py: paced FastHttpUsers
over the 8 endpoints, against bench/static_target.py) runs alternately without live checks,
with them every 5 s (the default) and every 1 s; window 30 s and no warm-up, so checks start at
t=32 s, and Locust's CPU (psutil) is taken from t=35 s to the run's end. Locust is pinned to
CPU 1, the target, influxd and this script share CPU 0 (as in bench_listener.py). Every round
checks that nothing was aborted and that InfluxDB stored exactly Locust's count. Everything stays
on 127.0.0.1; every run is bounded.

    python bench/bench_abort.py --rounds 2 --seconds 60 [--rate 400] [--repeat 7] [--skip-locust|--skip-influx]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench_check import DATABASE as CHECK_DB
from bench_listener import _cpu_s, _pin, _sample_until_exit, start_target
from harness.influx.client import InfluxClient, InfluxSettings, quote_string
from harness.influx.local import LocalInfluxd
from harness.verdict.decide.abort import decide
from harness.verdict.decide.dispersion import span_start_ns
from harness.verdict.decide.window import latency_limits
from harness.verdict.reads.measure import measure
from harness.verdict.reads.seconds import per_second
from harness.verdict.reads.window import measure_window
from harness.verdict.rules.abort_rule import ABORT_CHECKS, AbortRule
from harness.verdict.rules.thresholds import Thresholds

BENCH = Path(__file__).resolve().parent
DATABASE = "bench_abort"
WINDOW_S = 30.0
SETTLE_S = 2.0  # as harness/listener/live_checks.py
RUN_RATE = 300  # request points per second in part 1's runs
CHECKS_FROM_S = WINDOW_S + SETTLE_S  # warm-up 0: the first whole window
MEASURE_FROM_S = CHECKS_FROM_S + 3
VARIANTS = {"off": None, "every 5 s": 5.0, "every 1 s": 1.0}
JUDGED = re.compile(r"live checks: (\d+) windows judged, (\d+) skipped, ([\d.]+) s spent")


# -- part 1: one check against InfluxDB ------------------------------------------------------------
def write_run(url: str, run_id: str, minutes: int) -> None:
    points = RUN_RATE * minutes * 60
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_check.py"),
            "--points",
            str(points),
            "--span-s",
            str(minutes * 60),
            "--write-only",
            url,
            run_id,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode:
        raise SystemExit(f"writing {run_id} failed: {out.stderr.strip().splitlines()[-1:]}")


def influx_part(influxd: LocalInfluxd, url: str, repeat: int) -> list[dict]:
    client = InfluxClient(InfluxSettings(url=url, database=CHECK_DB))
    influx_proc = psutil.Process(influxd.running_pid())
    rows = []
    for minutes in (10, 60):
        run_id = f"bench-abort-{minutes}min"
        write_run(url, run_id, minutes)
        where = f'"run_id" = {quote_string(run_id)}'
        last_ns = int(
            client.query(f'SELECT last("response_time") FROM "request" WHERE {where}')[0]["values"][0][0]
        )
        end_ns = last_ns - int(SETTLE_S * 1e9)
        start_ns = end_ns - int(WINDOW_S * 1e9)
        for label, checks in (("success_rate, p95", AbortRule().checks), ("every check", ABORT_CHECKS)):
            times, cpu_before, own_before = [], _cpu_s(influx_proc), time.process_time()
            thresholds = Thresholds()
            for _ in range(repeat):
                began = time.perf_counter()
                # As the master does: with the counts of requests slower than each latency limit.
                figures = measure_window(
                    client, run_id, start_ns, end_ns, checks, "bench", latency_limits(thresholds, checks)
                )
                decide(thresholds, checks, figures, start_ns - 60 * 10**9, end_ns)
                times.append(time.perf_counter() - began)
            in_window = figures.measured.total_requests
            rows.append(
                {
                    "run": f"{minutes} min",
                    "points": RUN_RATE * minutes * 60,
                    "what": f"live check: {label}",
                    "window_points": in_window,
                    "median_s": statistics.median(times),
                    "runs": times,
                    "influxd_cpu_s": (_cpu_s(influx_proc) - cpu_before) / repeat,
                    "own_cpu_s": (time.process_time() - own_before) / repeat,
                }
            )
        # A look whose plain exact test rejected reads the per-second counts of the failing
        # scopes over the window and three window lengths before it (decide/dispersion.py).
        keys = (("POST /api/v1/payments", None), ("api:payments", None), ("api:payments", 500.0))
        span_start = span_start_ns(start_ns, end_ns, 0)
        times, cpu_before, own_before = [], _cpu_s(influx_proc), time.process_time()
        for _ in range(repeat):
            began = time.perf_counter()
            seconds = per_second(client, run_id, span_start, end_ns, keys)
            times.append(time.perf_counter() - began)
            assert len(seconds[keys[0]]) >= 4 * WINDOW_S, "the span is four windows"
        rows.append(
            {
                "run": f"{minutes} min",
                "points": RUN_RATE * minutes * 60,
                "what": "a rejecting look's per-second counts (3 scopes, 120 s)",
                "window_points": None,  # the span: four windows
                "median_s": statistics.median(times),
                "runs": times,
                "influxd_cpu_s": (_cpu_s(influx_proc) - cpu_before) / repeat,
                "own_cpu_s": (time.process_time() - own_before) / repeat,
            }
        )
        times, cpu_before, own_before = [], _cpu_s(influx_proc), time.process_time()
        for _ in range(3):
            began = time.perf_counter()
            measure(client, run_id, warmup_s=5.0)
            times.append(time.perf_counter() - began)
        rows.append(
            {
                "run": f"{minutes} min",
                "points": RUN_RATE * minutes * 60,
                "what": "measure() of the whole run",
                "window_points": None,
                "median_s": statistics.median(times),
                "runs": times,
                "influxd_cpu_s": (_cpu_s(influx_proc) - cpu_before) / 3,
                "own_cpu_s": (time.process_time() - own_before) / 3,
            }
        )
    return rows


# -- part 2: Locust's CPU with and without ---------------------------------------------------------
def locust_round(variant: str, index: int, host: str, url: str, args, work: Path) -> dict:
    every_s = VARIANTS[variant]
    run_id = f"bench-abort-{os.getpid()}-{index}-{variant.replace(' ', '')}"
    json_base = work / f"stats-{index}-{variant.replace(' ', '')}"
    users = max(1, round(args.rate / 10))
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(BENCH / "locustfile_abort.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{args.seconds}s",
        "--host",
        host,
        "--influx-url",
        url,
        "--influx-db",
        DATABASE,
        "--run-id",
        run_id,
        "--test-env",
        "bench",
        "--json-file",
        str(json_base),
        "--only-summary",
        "--loglevel",
        "INFO",
        "--stop-timeout",
        "0",
    ]
    if every_s is not None:
        thresholds = work / f"abort-{every_s:g}.yaml"
        thresholds.write_text(
            f"warmup_s: 0\nabort: {{after_s: 0, window_s: {WINDOW_S:g}, every_s: {every_s:g}}}\n"
        )
        cmd += ["--abort-on-fail", "--thresholds-file", str(thresholds)]
    log_path = work / f"locust-{index}-{variant.replace(' ', '')}.log"
    env = dict(os.environ, BENCH_USER_RATE=str(args.rate / users))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=work,
            env=env,
            preexec_fn=lambda: _pin(1),
        )
    try:
        samples = _sample_until_exit(
            proc,
            {"locust": psutil.Process(proc.pid)},
            args.seconds + 60,
            f"Locust ({variant}, round {index})",
        )["locust"]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
    log_text = log_path.read_text(errors="replace")
    if proc.returncode != 0 or "aborted at" in log_text:
        raise SystemExit(f"Locust ({variant}, round {index}) exited {proc.returncode}; see {log_path}")
    counted = sum(e["num_requests"] for e in json.loads(json_base.with_suffix(".json").read_text()))
    client = InfluxClient(InfluxSettings(url=url, database=DATABASE))
    stored = client.query(
        f'SELECT count("response_time") FROM "request" WHERE "run_id" = {quote_string(run_id)}'
    )
    stored_n = int(stored[0]["values"][0][1]) if stored else 0
    if stored_n != counted:
        raise SystemExit(f"round {index} ({variant}): {stored_n} points stored, Locust counted {counted}")
    steady = [(t, c) for t, c in samples if MEASURE_FROM_S <= t <= args.seconds]
    cpu_pct = 100 * (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
    judged = JUDGED.search(log_text)
    checks, skipped, spent = (int(judged[1]), int(judged[2]), float(judged[3])) if judged else (0, 0, 0.0)
    return {
        "variant": variant,
        "round": index,
        "requests": counted,
        "cpu_pct": cpu_pct,
        "checks": checks,
        "skipped": skipped,
        "spent_s": spent,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each Locust variant (1–5)")
    parser.add_argument("--seconds", type=int, default=60, help="Locust run time (45–180)")
    parser.add_argument("--rate", type=float, default=400, help="requests/s Locust offers (50–2000)")
    parser.add_argument("--repeat", type=int, default=7, help="timings of each InfluxDB query (3–20)")
    parser.add_argument("--skip-locust", action="store_true", help="part 1 only")
    parser.add_argument("--skip-influx", action="store_true", help="part 2 only")
    args = parser.parse_args(argv)
    if not (
        1 <= args.rounds <= 5
        and 45 <= args.seconds <= 180
        and 50 <= args.rate <= 2000
        and 3 <= args.repeat <= 20
    ):
        parser.error("--rounds 1–5, --seconds 45–180, --rate 50–2000, --repeat 3–20")
    loadavg = [" ".join(Path("/proc/loadavg").read_text().split()[:3])]
    with tempfile.TemporaryDirectory(prefix="bench-abort-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        url = influxd.start()
        target = None
        try:
            influx_rows = [] if args.skip_influx else influx_part(influxd, url, args.repeat)
            loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
            rounds = []
            if not args.skip_locust:
                target, host = start_target(work)
                for index in range(1, args.rounds + 1):
                    for variant in VARIANTS:
                        rounds.append(locust_round(variant, index, host, url, args, work))
        finally:
            if target is not None:
                target.terminate()
                target.wait(timeout=10)
            influxd.stop()
    loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))

    print(f"load average: start {loadavg[0]} / after part 1 {loadavg[1]} / end {loadavg[-1]}")
    print(
        f"\nPart 1: one live check over the trailing {WINDOW_S:g} s ({RUN_RATE} points/s), {args.repeat} times; "
        f"measure() of the whole run 3 times\n"
    )
    print(
        "| run | points | what | points in window | median s | runs (s) | influxd CPU s per call "
        "| caller CPU ms per call |"
    )
    print("|---|---:|---|---:|---:|---|---:|---:|")
    for r in influx_rows:
        print(
            f"| {r['run']} | {r['points']:,} | {r['what']} | {r['window_points'] or '—'} | {r['median_s']:.3f} "
            f"| {', '.join(f'{t:.3f}' for t in r['runs'])} | {r['influxd_cpu_s']:.3f} | {1000 * r['own_cpu_s']:.1f} |"
        )
    if rounds:
        print(
            f"\nPart 2: Locust at {args.rate:g} req/s for {args.seconds} s, CPU from t={MEASURE_FROM_S:g} s\n"
        )
        print(
            "| round | live checks | requests | Locust CPU % | checks | skipped | s in checks | ms per check |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in rounds:
            per = f"{1000 * r['spent_s'] / r['checks']:.1f}" if r["checks"] else "—"
            print(
                f"| {r['round']} | {r['variant']} | {r['requests']} | {r['cpu_pct']:.1f} | {r['checks']} "
                f"| {r['skipped']} | {r['spent_s']:.2f} | {per} |"
            )
        print()
        for variant in VARIANTS:
            cpu = statistics.median(r["cpu_pct"] for r in rounds if r["variant"] == variant)
            print(f"median Locust CPU, live checks {variant}: {cpu:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Listener overhead: requests/s of one saturated Locust process with and without the listener.

One invocation starts a real influxd and a static keep-alive target (bench/static_target.py),
then runs Locust (FastHttpUser, or HttpUser with ``--user-class http``; no wait, one GET,
headless, one process) alternately without and with ``import harness.listener`` (A/B/A/B…),
so drift on a shared machine hits both variants alike. Locust runs pinned to CPU 1; the
target, influxd and this script share CPU 0. Rate = Locust's own request count
(``--json-file``) / the span from its first to its last request. The goal is a ratio of
requests per Locust CPU-second (the requests/s of a saturated Locust, whatever share of its core
other work on the machine takes) of at least 0.97; req/s ratios are printed beside it.
A microbenchmark of the hot path (bench/listener_hotpath.py) follows; ``--py-spy PATH``
adds one profiled with-listener round. ``--points sketches`` (or ``both``) runs the listener in
that recording mode; ``--points requests,sketches`` alternates plain Locust with each mode in
turn, side by side. Every with-listener round checks that InfluxDB stored exactly Locust's count
(request points, or the sketches' summed counts). Everything stays on 127.0.0.1; every run is bounded.

    python bench/bench_listener.py --rounds 4 --seconds 12 [--user-class fast] [--points requests] [--py-spy PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.influx.client import InfluxClient, InfluxSettings, quote_string
from harness.influx.local import LocalInfluxd

BENCH = Path(__file__).resolve().parent
LOCUSTFILES = {"without": BENCH / "locustfile_plain.py", "with": BENCH / "locustfile_listener.py"}
GOAL_RATIO = 0.97
SATURATED_PCT = 90  # Locust's CPU share from which a round counts as saturated on its own
DATABASE = "bench_listener"
STEADY_FROM_S = 3.0  # Locust's imports and spawning are over by then


@dataclass
class Round:
    variant: str
    index: int
    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    locust_cpu_pct: float = 0.0
    target_cpu_pct: float = 0.0
    influxd_cpu_pct: float = 0.0
    stored: int | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_s(self) -> float:
        # Requests per second of Locust's own CPU: what the listener costs even when other work
        # on a shared machine takes part of Locust's core (then req/s drops, this does not).
        return self.rps / (self.locust_cpu_pct / 100) if self.locust_cpu_pct else 0.0


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def start_target(log_dir: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "static_target.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=open(log_dir / "target.log", "wb"),  # noqa: SIM115 - the child keeps it
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("static target listening on "):
        proc.kill()
        raise SystemExit(f"static target did not start: {line!r}; see {log_dir / 'target.log'}")
    return proc, line.rsplit(" ", 1)[1]


def locust_command(
    variant: str,
    host: str,
    seconds: float,
    users: int,
    json_base: Path,
    influx_url: str,
    run_id: str,
    points: str = "requests",
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILES[variant]),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds:g}s",
        "--host",
        host,
        "--json-file",
        str(json_base),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "0",
    ]
    if variant == "with":
        cmd += [
            "--influx-url",
            influx_url,
            "--influx-db",
            DATABASE,
            "--run-id",
            run_id,
            "--test-env",
            "bench",
            "--influx-points",
            points,
        ]
    return cmd


def _sample_until_exit(
    proc: subprocess.Popen, procs: dict[str, psutil.Process], limit_s: float, what: str
) -> dict[str, list[tuple[float, float]]]:
    """(seconds since start, CPU seconds) of each watched process, every 0.5 s until proc exits."""
    started = time.monotonic()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in procs}
    while proc.poll() is None:
        now = time.monotonic()
        if now - started > limit_s:
            raise SystemExit(f"{what} did not stop within {limit_s:.0f} s")
        for name, p in procs.items():
            try:
                samples[name].append((now - started, _cpu_s(p)))
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.5)
    return samples


def run_round(
    variant: str,
    index: int,
    host: str,
    args,
    work: Path,
    influx_url: str,
    watched: dict[str, psutil.Process],
    points: str = "requests",
) -> Round:
    result = Round(variant if variant == "without" else f"with ({points})", index)
    run_id = f"bench-listener-{os.getpid()}-{index}-{points}"
    json_base = work / f"{variant}-{index}-{points}"
    cmd = locust_command(variant, host, args.seconds, args.users, json_base, influx_url, run_id, points)
    with open(work / f"locust-{variant}-{index}.log", "wb") as log:
        # Locust alone on CPU 1: its core is the resource under test.
        # cwd: the temporary folder, so nothing the listener keeps on disk (its spool, should
        # influxd go away) lands in the caller's checkout.
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=work,
            preexec_fn=lambda: _pin(1),
        )
    try:
        samples = _sample_until_exit(
            proc,
            dict(watched, locust=psutil.Process(proc.pid)),
            args.seconds + 60,
            f"Locust ({variant}, round {index})",
        )
    finally:
        if proc.poll() is None:  # interrupted: SIGTERM lets Locust stop its users and its listener
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if proc.returncode not in (0, 1):  # 1: Locust saw failed requests, still measured
        tail = (work / f"locust-{variant}-{index}.log").read_text(errors="replace").splitlines()[-5:]
        raise SystemExit(f"Locust ({variant}, round {index}) exited {proc.returncode}: " + " | ".join(tail))
    entries = json.loads(json_base.with_suffix(".json").read_text())
    result.requests = sum(e["num_requests"] for e in entries)
    result.failures = sum(e["num_failures"] for e in entries)
    result.seconds = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    # CPU over the steady part only: after imports and spawning, before the stop.
    for name, series in samples.items():
        steady = [(t, c) for t, c in series if STEADY_FROM_S <= t <= args.seconds]
        pct = (
            100 * (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) > 1 else 0.0
        )
        setattr(result, f"{name}_cpu_pct", pct)
    if variant == "with":
        client = InfluxClient(InfluxSettings(url=influx_url, database=DATABASE))
        what = (
            'count("response_time") FROM "request"'
            if points != "sketches"
            else 'sum("count") FROM "request_sketch"'
        )
        stored = client.query(f'SELECT {what} WHERE "run_id" = {quote_string(run_id)}')
        result.stored = int(stored[0]["values"][0][1]) if stored else 0
    return result


# -- where the listener's time goes: one more with-listener round under py-spy ------------------
PROFILE_PARTS = [  # (label, frame prefix): a sample counts for a part when its stack holds the frame
    ("all harness frames", "harness/"),
    ("InfluxListener.on_request: the per-request hot path", "InfluxListener.on_request "),
    ("  of which RequestRecorder.record", "RequestRecorder.record "),
    ("  of which format_float", "format_float "),
    ("InfluxListener._flush_loop: the flusher", "InfluxListener._flush_loop "),
    ("  of which InfluxClient.write (gzip + HTTP POST)", "InfluxClient.write "),
    ("    of which requests' Session.post", "Session.post (requests/"),
    ("InfluxListener._users_loop", "InfluxListener._users_loop "),
    ("locust EventHook.fire (all request handlers, Locust's own stats included)", "EventHook.fire "),
]


def profile_round(py_spy: str, host: str, args, work: Path, influx_url: str) -> list[tuple[str, float]]:
    """Share of py-spy samples (200 Hz, whole process life) in each part of the listener."""
    out = work / "profile.txt"
    cmd = [
        py_spy,
        "record",
        "--nonblocking",
        "-r",
        "200",
        "--format",
        "raw",
        "-o",
        str(out),
        "--",
        *locust_command(
            "with", host, args.seconds, args.users, work / "profile", influx_url, "bench-profile"
        ),
    ]
    subprocess.run(
        cmd, cwd=work, preexec_fn=lambda: _pin(1), capture_output=True, timeout=args.seconds + 90, check=True
    )
    stacks = []
    for line in out.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        stacks.append((frames.split(";"), int(count)))
    total = sum(n for _, n in stacks)
    shares = [
        (
            label,
            100
            * sum(
                n
                for frames, n in stacks
                if any(prefix in f if prefix.endswith("/") else f.startswith(prefix) for f in frames)
            )
            / total,
        )
        for label, prefix in PROFILE_PARTS
    ]
    return [("samples", float(total))] + shares


def _median(rounds: list[Round], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in rounds)


def report(rounds: list[Round], micro_results: dict[str, float] | None, loadavg: list[str]) -> bool:
    print(
        "| round | variant | requests | failures | seconds | req/s | locust CPU % | req per locust CPU-s "
        "| target CPU % | influxd CPU % | points stored |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rounds:
        stored = "—" if r.stored is None else f"{r.stored} ({'all' if r.stored == r.requests else 'MISSING'})"
        print(
            f"| {r.index} | {r.variant} listener | {r.requests} | {r.failures} | {r.seconds:.2f} | {r.rps:.0f} "
            f"| {r.locust_cpu_pct:.0f} | {r.per_cpu_s:.0f} | {r.target_cpu_pct:.0f} | {r.influxd_cpu_pct:.0f} "
            f"| {stored} |"
        )
    variants = list(dict.fromkeys(r.variant for r in rounds if r.variant != "without"))
    by = {v: [r for r in rounds if r.variant == v] for v in ["without", *variants]}
    without = _median(by["without"], "rps")
    met = True
    print()
    print(f"median req/s without listener: {without:.0f}")
    for variant in variants:
        with_ = _median(by[variant], "rps")
        ratio = with_ / without
        print()
        print(f"{variant} listener: median req/s {with_:.0f}")
        print(f"  ratio with / without:        {ratio:.3f}")
        print(
            "  pairwise ratios (round i):   "
            + ", ".join(f"{w.rps / wo.rps:.3f}" for wo, w in zip(by["without"], by[variant]))
        )
        cpu_ratio = _median(by[variant], "per_cpu_s") / _median(by["without"], "per_cpu_s")
        # At saturation Locust's requests/s is its requests per CPU-second: this ratio is the
        # saturated one even when other work on a shared machine takes part of Locust's core
        # (then req/s measures that share, not the listener), so the goal is judged on it.
        verdict = "met" if cpu_ratio >= GOAL_RATIO else "MISSED"
        met = met and cpu_ratio >= GOAL_RATIO
        print(
            "  per Locust CPU-second (= req/s at saturation), "
            f"with / without: {cpu_ratio:.3f} (medians {_median(by[variant], 'per_cpu_s'):.0f} / "
            f"{_median(by['without'], 'per_cpu_s'):.0f}; goal >= {GOAL_RATIO}: {verdict})"
        )
        full = [r for r in by[variant] if r.locust_cpu_pct >= SATURATED_PCT]
        base = [r for r in by["without"] if r.locust_cpu_pct >= SATURATED_PCT]
        if full and base:
            print(
                f"  rounds with Locust at >= {SATURATED_PCT} % of its core: req/s with / without "
                f"{_median(full, 'rps') / _median(base, 'rps'):.3f} ({len(full)} / {len(base)} rounds)"
            )
        cost_us = 1e6 / _median(by[variant], "per_cpu_s") - 1e6 / _median(by["without"], "per_cpu_s")
        print(
            f"  listener CPU per request:    {cost_us:.1f} µs (difference of the median Locust CPU-µs per request)"
        )
    print(f"max target CPU %:              {max(r.target_cpu_pct for r in rounds):.0f} (its own core)")
    print(f"load average before / after:   {loadavg[0]} / {loadavg[1]}")
    if micro_results:
        m = micro_results
        print()
        print(f"hot path per request (µs, best of 7 / median of 7; line of {m['line_bytes']:.0f} bytes):")
        print("| what | best µs | median µs |")
        print("|---|---:|---:|")
        for key, label in (
            ("record_ok", "RequestRecorder.record (ok, cached prefix)"),
            ("record_fail", "RequestRecorder.record (failure, error string)"),
            ("on_request_ok", "InfluxListener.on_request (ok: record + its own checks)"),
            ("point_ok", "influxdb_client Point → to_line_protocol (same line)"),
        ):
            print(f"| {label} | {m[key + '_min_us']:.2f} | {m[key + '_median_us']:.2f} |")
        print(
            f"| flusher per point: join + encode + gzip(1) of a 5,000-line batch (varied values) | "
            f"{m['batch_per_point_min_us']:.2f} | |"
        )
        print(
            f"| writer per point: add + seal into a batch body + bytes to send (5,000 lines, no gzip) | "
            f"{m['writer_per_point_min_us']:.2f} | |"
        )
        print(
            f"| SketchRecorder.record (sketch mode's hook: three appends) | {m['sketch_record_ok_min_us']:.2f} | "
            f"{m['sketch_record_ok_median_us']:.2f} |"
        )
        print(
            f"| sketch fold per request, once a second (10,000 requests, 8 series) | "
            f"{m['sketch_fold_per_request_min_us']:.2f} | |"
        )
        print(f"Point / record: {m['point_ok_min_us'] / m['record_ok_min_us']:.1f}× (best of 7)")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds per variant, alternating (min 3)")
    parser.add_argument("--seconds", type=float, default=12.0, help="Locust run time per round (5–30)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--user-class",
        choices=("fast", "http"),
        default="fast",
        help="Locust's FastHttpUser (default) or the requests-based HttpUser",
    )
    parser.add_argument("--skip-micro", action="store_true", help="only the A/B rounds")
    parser.add_argument(
        "--py-spy", metavar="PATH", help="also profile one with-listener round with this py-spy"
    )
    parser.add_argument(
        "--points",
        default="requests",
        help="the listener's recording modes, comma-separated, each alternating with plain Locust "
        "(requests, sketches, both)",
    )
    args = parser.parse_args(argv)
    args.rounds = max(3, args.rounds)
    args.seconds = min(max(args.seconds, 5.0), 30.0)

    os.environ["BENCH_USER_CLASS"] = args.user_class  # read by both locustfiles
    _pin(0)  # this script, the target and influxd (children inherit) stay off Locust's core
    loadavg = [" ".join(Path("/proc/loadavg").read_text().split()[:3])]
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="bench-listener-") as tmp:
        work = Path(tmp)
        influxd = LocalInfluxd(work / "influxd", port=0)
        influx_url = influxd.start()
        target, host = start_target(work)
        try:
            watched = {"target": psutil.Process(target.pid), "influxd": psutil.Process(influxd.running_pid())}
            modes = [m.strip() for m in args.points.split(",") if m.strip()]
            for index in range(1, args.rounds + 1):
                for variant, points in [("without", "requests")] + [("with", m) for m in modes]:
                    r = run_round(variant, index, host, args, work, influx_url, watched, points)
                    print(
                        f"round {index} {variant:7s} listener: {r.rps:7.0f} req/s "
                        f"(locust CPU {r.locust_cpu_pct:.0f} %, target CPU {r.target_cpu_pct:.0f} %)",
                        file=sys.stderr,
                        flush=True,
                    )
                    rounds.append(r)
            profile = profile_round(args.py_spy, host, args, work, influx_url) if args.py_spy else None
        finally:
            target.terminate()
            target.wait(timeout=10)
            influxd.stop()
    loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
    micro_results = None
    if not args.skip_micro:
        out = subprocess.run(
            [sys.executable, str(BENCH / "listener_hotpath.py")],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        micro_results = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {sys.version.split()[0]}, "
        f"Locust {_version('locust')}, {args.users} users "
        f"({'FastHttpUser' if args.user_class == 'fast' else 'HttpUser'}), {args.seconds:g} s per round"
    )
    print()
    met = report(rounds, micro_results, loadavg)
    if profile:
        print()
        print(
            f"py-spy, one more with-listener round ({profile[0][1]:.0f} samples at 200 Hz over the process's life):"
        )
        print("| part of the Locust process | % of samples |")
        print("|---|---:|")
        for label, pct in profile[1:]:
            print(f"| {label} | {pct:.2f} |")
    return 0 if met else 1


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main())

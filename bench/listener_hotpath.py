"""The listener's per-request hot path, timed alone (bench_listener.py runs this as a child
and reads the JSON it prints): ``RequestRecorder.record``, ``InfluxListener.on_request`` and
influxdb_client's ``Point`` building the very same line, plus the flusher's share per point.

    python bench/listener_hotpath.py
"""

# Importing the listener imports Locust, whose gevent patching must come before anything
# loads ssl — as in a real locustfile. Hence a process of its own, and this import first.
import locust  # noqa: F401,I001

import gzip
import json
import os
import random
import statistics
import timeit
from types import SimpleNamespace
from typing import Any

from gevent.event import Event
from influxdb_client import Point, WritePrecision

from harness.influx.client import InfluxClient, InfluxSettings
from harness.influx.writer import BatchWriter
from harness.listener.influx_listener import InfluxListener
from harness.listener.recorder import RequestRecorder
from harness.listener.sketch_recorder import SketchRecorder


def micro() -> dict[str, float]:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the core Locust gets in bench_listener.py
    run_id, worker, t0, rt = "20260101T000000Z-abcdef", "bench-host-12345", 1767225600.123456, 3.4567891234
    recorder = RequestRecorder(run_id, "local", worker)
    response = SimpleNamespace(status_code=200)
    recorder.record("GET", "/health", rt, 2, None, t0, response)
    ours = recorder.take()[0]

    def point_line() -> str:
        return (
            Point("request")
            .tag("api", "auth")
            .tag("method", "GET")
            .tag("name", "/health")
            .tag("result", "ok")
            .tag("run_id", run_id)
            .tag("status", 200)
            .tag("test_env", "local")
            .tag("worker", worker)
            .field("response_length", 2)
            .field("response_time", rt)
            .time(int(t0 * 1_000_000) * 1000, WritePrecision.NS)
            .to_line_protocol()
        )

    if point_line() != ours:
        raise SystemExit(f"Point and the recorder disagree:\n  {point_line()}\n  {ours}")

    listener: Any = SimpleNamespace(
        recorder=recorder, batch_size=5000, flush_now=Event()
    )  # stands in for self
    error = ConnectionRefusedError(111, "Connection refused")

    def per_call_us(fn, number: int) -> tuple[float, float]:
        runs = timeit.repeat(fn, number=number, repeat=7)
        recorder.take()  # keep memory flat between cases
        return min(runs) / number * 1e6, statistics.median(runs) / number * 1e6

    results: dict[str, float] = {}
    cases = {
        "record_ok": (lambda: recorder.record("GET", "/health", rt, 2, None, t0, response), 100_000),
        "record_fail": (lambda: recorder.record("GET", "/health", rt, 0, error, t0, None), 100_000),
        "on_request_ok": (
            lambda: InfluxListener.on_request(
                listener, "GET", "/health", rt, 2, None, start_time=t0, response=response, context={}
            ),
            100_000,
        ),
        "point_ok": (point_line, 20_000),
    }
    for name, (fn, number) in cases.items():
        results[f"{name}_min_us"], results[f"{name}_median_us"] = per_call_us(fn, number)
    # The flusher's share per point: join, encode and gzip a 5,000-line batch whose times vary
    # as real ones do (identical lines would compress unrealistically fast). The HTTP POST
    # itself shows up in the A/B rates and the profile, not here.
    rng = random.Random(1)
    for i in range(5000):
        recorder.record("GET", "/health", rng.lognormvariate(1.0, 0.5), 2, None, t0 + i * 9.3e-5, response)
    batch = recorder.take()
    runs = timeit.repeat(
        lambda: gzip.compress(("\n".join(batch) + "\n").encode("utf-8"), compresslevel=1), number=20, repeat=5
    )
    results["batch_per_point_min_us"] = min(runs) / 20 / len(batch) * 1e6
    # The writer's own share before the POST: hand the batch over, seal it into a batch body
    # (join + encode into the newest batch) and take the bytes it would send.
    writer = BatchWriter(InfluxClient(InfluxSettings(url="http://127.0.0.1:9", database="bench")), 10**9)

    def seal_and_take() -> None:
        writer.add(batch)
        writer._seal()
        bytes(writer.pending[0].body)
        writer.pending.clear()
        writer.pending_points = 0

    runs = timeit.repeat(seal_and_take, number=20, repeat=5)
    results["writer_per_point_min_us"] = min(runs) / 20 / len(batch) * 1e6
    results["line_bytes"] = float(len(ours))
    # Sketch mode: the hook's three appends, then the flusher's fold per request (one second of
    # 10,000 requests over 8 series, lognormal times), timed apart.
    sketches = SketchRecorder(run_id, "local", worker)
    runs = timeit.repeat(
        lambda: sketches.record("GET", "/health", rt, 2, None, t0, response), number=100_000, repeat=7
    )
    sketches.take()
    results["sketch_record_ok_min_us"] = min(runs) / 100_000 * 1e6
    results["sketch_record_ok_median_us"] = statistics.median(runs) / 100_000 * 1e6
    fold = []
    for repeat in range(5):
        for i in range(10_000):
            sketches.record(
                "GET", f"/e{i % 8}", rng.lognormvariate(1.0, 0.5), 2, None, t0 + repeat + i * 1e-4, response
            )
        started = timeit.default_timer()
        sketches.take()
        fold.append((timeit.default_timer() - started) / 10_000 * 1e6)
    results["sketch_fold_per_request_min_us"] = min(fold)
    return results


if __name__ == "__main__":
    print(json.dumps(micro()))

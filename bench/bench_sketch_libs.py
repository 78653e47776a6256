"""Quantile sketch libraries for sketch mode: ddsketch against hdrhistogram (and the harness's own
vectorised accumulator, which uses ddsketch's mapping), on the same latencies.

Per library: CPU per value added, per merge of two one-second sketches, serialized bytes of a
one-second sketch, and the worst relative error of p50/p95/p99/p99.9 against the exact nearest-rank
percentile over several distributions. In-process, no I/O.

    python bench/bench_sketch_libs.py [--values 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ddsketch import DDSketch

from harness.influx.sketch import RELATIVE_ACCURACY, Sketch, nearest_rank

QUANTILES = (50, 95, 99, 99.9)


def distributions(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "lognormal(median 20 ms, sigma 0.6)": rng.lognormal(math.log(20), 0.6, n),
        "lognormal(median 3 ms, sigma 1.5)": rng.lognormal(math.log(3), 1.5, n),
        "bimodal 2 ms / 400 ms (5 %)": np.where(
            rng.random(n) < 0.05, rng.normal(400, 40, n).clip(1), rng.normal(2, 0.3, n).clip(0.05)
        ),
        "uniform 0.1–10,000 ms": rng.uniform(0.1, 10_000, n),
    }


def exact(values: np.ndarray, p: float) -> float:
    s = np.sort(values)
    return float(s[nearest_rank(len(s), p)])


def timed(fn, repeat: int) -> float:
    best = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best.append(time.process_time() - t)
    return statistics.median(best)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--per-second", type=int, default=1000, help="values in one second's sketch")
    args = parser.parse_args(argv)
    try:
        # Only this comparison needs it, so neither users nor the suite install it.
        from hdrh.histogram import HdrHistogram
    except ImportError:
        print("bench_sketch_libs: needs hdrhistogram: pip install 'hdrhistogram>=0.10,<1'", file=sys.stderr)
        return 2
    rng = np.random.default_rng(18)
    dists = distributions(args.values, rng)
    values = dists["lognormal(median 20 ms, sigma 0.6)"]
    as_list = values.tolist()
    rows = []

    def dd_add():
        s = DDSketch(RELATIVE_ACCURACY)
        for v in as_list:
            s.add(v)
        return s

    def hdr_new():
        # Microseconds, 1 µs .. 1 hour, 2 significant digits: 1 % relative precision, as ddsketch's 1 %.
        return HdrHistogram(1, 3_600_000_000, 2)

    def hdr_add():
        h = hdr_new()
        for v in as_list:
            h.record_value(int(v * 1000))
        return h

    def own_add():
        return Sketch.of(values)

    sec = values[: args.per_second]
    dd_a, dd_b = DDSketch(RELATIVE_ACCURACY), DDSketch(RELATIVE_ACCURACY)
    h_a, h_b = hdr_new(), hdr_new()
    for v in sec.tolist():
        dd_a.add(v)
        dd_b.add(v * 1.1)
        h_a.record_value(int(v * 1000))
        h_b.record_value(int(v * 1100))
    own_a, own_b = Sketch.of(sec), Sketch.of(sec * 1.1)

    def dd_merge():
        for _ in range(1000):
            c = DDSketch(RELATIVE_ACCURACY)
            c.merge(dd_a)
            c.merge(dd_b)

    def hdr_merge():
        for _ in range(1000):
            c = hdr_new()
            c.add(h_a)
            c.add(h_b)

    def own_merge():
        for _ in range(1000):
            Sketch.merged([own_a, own_b])

    dd_bytes = len(
        json.dumps(
            {
                str(k): c
                for k, c in zip(
                    range(dd_a._store.offset, dd_a._store.offset + len(dd_a._store.bins)), dd_a._store.bins
                )
                if c
            },
            separators=(",", ":"),
        )
    )
    hdr_bytes = len(h_a.encode())  # base64 of zlib-compressed HdrHistogram V2
    own_bytes = len(own_a.encode())

    n = len(as_list)
    rows.append(
        (
            "ddsketch 3 (DDSketch, 1 %)",
            timed(dd_add, args.repeat) / n * 1e6,
            timed(dd_merge, args.repeat) / 1000 * 1e6,
            dd_bytes,
        )
    )
    rows.append(
        (
            "hdrhistogram 0.10 (2 digits, µs)",
            timed(hdr_add, args.repeat) / n * 1e6,
            timed(hdr_merge, args.repeat) / 1000 * 1e6,
            hdr_bytes,
        )
    )
    rows.append(
        (
            "harness Sketch (ddsketch mapping, numpy)",
            timed(own_add, args.repeat) / n * 1e6,
            timed(own_merge, args.repeat) / 1000 * 1e6,
            own_bytes,
        )
    )

    errors: dict[str, float] = {"ddsketch": 0.0, "hdrhistogram": 0.0, "harness": 0.0}
    for vals in dists.values():
        dd, h = DDSketch(RELATIVE_ACCURACY), hdr_new()
        for v in vals.tolist():
            dd.add(v)
            h.record_value(max(1, int(round(v * 1000))))
        own = Sketch.of(vals)
        for p in QUANTILES:
            truth = exact(vals, p)
            got_dd, got_own = dd.get_quantile_value(p / 100), own.percentile(p)
            assert got_dd is not None and got_own is not None  # the sketches hold values
            errors["ddsketch"] = max(errors["ddsketch"], abs(got_dd - truth) / truth)
            errors["hdrhistogram"] = max(
                errors["hdrhistogram"], abs(h.get_value_at_percentile(p) / 1000 - truth) / truth
            )
            errors["harness"] = max(errors["harness"], abs(got_own - truth) / truth)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"{n} values per add timing, {args.per_second}-value one-second sketches, median of {args.repeat} "
        f"(CPU time); load average {load}"
    )
    print(
        "| library | µs per value added | µs per merge of two 1-s sketches | bytes of a 1-s sketch | "
        "worst relative error p50/p95/p99/p99.9 |"
    )
    print("|---|---:|---:|---:|---:|")
    for (label, add_us, merge_us, size), err in zip(rows, errors.values()):
        print(f"| {label} | {add_us:.3f} | {merge_us:.1f} | {size} | {100 * err:.3f} % |")
    print(
        "(ddsketch's error uses its own quantile rank q·(n−1); the harness's uses InfluxDB's nearest rank.)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

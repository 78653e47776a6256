"""The stored sketch (harness/influx/sketch.py) and sketch mode's recorder
(harness/listener/sketch_recorder.py): percentiles within 1 % of InfluxDB's nearest rank whatever
the data, merging exact, one point per series and second."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from harness.influx.sketch import MAPPING, RELATIVE_ACCURACY, SECOND_NS, Sketch, nearest_rank
from tests.helpers import ROOT


def _load(name: str):
    """A listener module by path: importing the harness.listener package would import Locust, which
    must monkey-patch the standard library before anything else loads ssl."""
    full = f"harness.listener.{name}"
    if full not in sys.modules:
        spec = importlib.util.spec_from_file_location(full, ROOT / "harness" / "listener" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    return sys.modules[full]


HOLD_S, SketchRecorder = _load("sketch_recorder").HOLD_S, _load("sketch_recorder").SketchRecorder
FleetSketches, from_wire, to_wire = (
    _load("fleet").FleetSketches,
    _load("fleet").from_wire,
    _load("fleet").to_wire,
)

OK = SimpleNamespace(status_code=200)
ERROR = SimpleNamespace(status_code=500)
T0 = 1_767_225_600.0  # a whole second


def exact(values, p):
    ordered = np.sort(np.asarray(values, dtype=float))
    i = nearest_rank(len(ordered), p)
    return None if i is None else float(ordered[i])


latencies = st.lists(st.one_of(st.floats(0.001, 120_000.0), st.just(0.0)), min_size=1, max_size=400)


@settings(max_examples=200, deadline=None)
@given(latencies, st.sampled_from([1, 50, 90, 95, 99, 99.9, 100]))
def test_every_percentile_is_within_the_stated_accuracy_of_the_exact_one(values, p):
    sketch = Sketch.of(np.array(values))
    got, truth = sketch.percentile(p, min(values), max(values)), exact(values, p)
    assert (got is None) == (truth is None)
    if truth is not None:
        assert abs(got - truth) <= RELATIVE_ACCURACY * truth + 1e-12, (got, truth)


@settings(max_examples=100, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=6))
def test_merged_sketches_equal_the_sketch_of_all_values(parts):
    merged = Sketch.merged([Sketch.of(np.array(part)) for part in parts])
    whole = Sketch.of(np.array([v for part in parts for v in part]))
    assert merged.count == whole.count == sum(len(p) for p in parts)
    assert merged.zeros == whole.zeros
    assert merged.keys.tolist() == whole.keys.tolist() and merged.counts.tolist() == whole.counts.tolist()
    decoded = Sketch.decode(merged.encode())
    assert decoded.keys.tolist() == merged.keys.tolist() and decoded.counts.tolist() == merged.counts.tolist()


def test_buckets_are_ddsketchs_own():
    values = np.random.default_rng(3).lognormal(2.0, 1.5, 5000)
    keys = Sketch.of(values).keys.tolist()
    assert keys == sorted({MAPPING.key(float(v)) for v in values})


def lines_of(recorder):
    return [line for line in recorder.take() if line.startswith("request_sketch,")]


def test_one_point_per_series_and_second_with_exact_counts_min_and_max():
    recorder = SketchRecorder("run-1", "local", "w1")
    for i in range(300):  # three seconds, 100 requests each, 10 % failures
        failed = i % 10 == 0
        recorder.record(
            "GET",
            "/health",
            float(1 + i % 37),
            2,
            RuntimeError("boom") if failed else None,
            T0 + i / 100,
            ERROR if failed else OK,
            None,
        )
    lines = lines_of(recorder)
    series = [(line.split(" ")[0], line.rsplit(" ", 1)[1]) for line in lines]
    assert len(series) == len(set(series)) == 6  # ok and fail series × 3 seconds
    ok_counts = [int(line.split("count=")[1].split("i")[0]) for line in lines if "result=ok" in line]
    assert ok_counts == [90, 90, 90]
    assert recorder.seen == 300
    failures = [line for line in lines if "result=fail" in line]
    assert all('errors="{\\"boom\\": 10}"' in line for line in failures)
    assert all(line.endswith(str(int((T0 + k) * 1e9))) for k, line in enumerate(failures))


def test_a_second_that_gains_requests_later_is_written_again_whole():
    recorder = SketchRecorder("run-1", "local", "w1")
    recorder.record("GET", "/health", 5.0, 2, None, T0 + 0.5, OK, None)
    first = lines_of(recorder)
    recorder.record("GET", "/health", 900.0, 2, None, T0 + 0.9, OK, None)  # a slow one, same second
    second = lines_of(recorder)
    assert first[0].rsplit(" ", 1)[1] == second[0].rsplit(" ", 1)[1]  # same timestamp: it overwrites
    assert "count=2i" in second[0] and "max=900.0" in second[0] and "min=5.0" in second[0]


def test_a_request_older_than_the_held_seconds_is_counted_not_lost():
    recorder = SketchRecorder("run-1", "local", "w1")
    for k in range(HOLD_S + 5):
        recorder.record("GET", "/health", 5.0, 2, None, T0 + k, OK, None)
        lines_of(recorder)
    recorder.record("GET", "/health", 7.0, 2, None, T0, OK, None)  # started before the oldest held second
    (line,) = lines_of(recorder)
    assert recorder.late_requests == 1 and "count=2i" in line


def test_the_fleet_series_merges_workers_parts_into_one_point_per_endpoint_and_second():
    fleet = FleetSketches("run-1", "local")
    values = np.random.default_rng(5).lognormal(3, 0.8, 2000)
    for w in range(4):
        recorder = SketchRecorder("run-1", "local", f"w{w}")
        for v in values[w::4]:
            recorder.record("GET", "/health", float(v), 2, None, T0 + 0.3, OK, None)
        recorder.take()
        fleet.add(
            from_wire(json.loads(json.dumps(to_wire(recorder.take_deltas()))))
        )  # as msgpack would carry it
    (line,) = fleet.take()
    assert "count=2000i" in line
    p95 = float(line.split("p95=")[1].split(",")[0])
    assert abs(p95 - exact(values, 95)) <= RELATIVE_ACCURACY * exact(values, 95)


@pytest.mark.parametrize("arrival", [False, True])
def test_latency_from_the_scheduled_start_gets_its_own_sketch_in_the_arrival_model(arrival):
    recorder = SketchRecorder("run-1", "local", "w1")
    context = {"api": "payments", "lateness_ms": 40.0} if arrival else {}
    recorder.record("POST", "/api/v1/payments", 10.0, 2, None, T0, OK, context)
    (line,) = lines_of(recorder)
    assert ("scheduled_max=50.0" in line) == arrival


def test_the_verdicts_statistics_from_sketches_match_the_raw_values_within_the_accuracy():
    """decide/sketch_stats.py against decide/estimate.py on the same requests: 4 workers' per-second
    points of one endpoint, 2 % failures."""
    from harness.verdict.decide.estimate import stats_of
    from harness.verdict.decide.sketch_stats import Bins, SketchScope, stats_from_sketches
    from harness.verdict.reads.samples import Samples

    rng = np.random.default_rng(11)
    rows, t_all, v_all, f_all = [], [], [], []
    for second in range(120):
        for _worker in range(4):
            values = rng.lognormal(3.0, 0.7, rng.integers(20, 60))
            failed = rng.random(len(values)) < 0.02
            starts = second + np.sort(rng.random(len(values)))
            for fail in (False, True):
                part = values[failed == fail]
                if len(part):
                    rows.append(
                        (
                            second * SECOND_NS,
                            len(part),
                            len(part) if fail else 0,
                            part.min(),
                            part.max(),
                            Sketch.of(part).encode(),
                        )
                    )
            t_all.append(starts), v_all.append(values), f_all.append(failed)
    rows.sort(key=lambda r: r[0])
    scope = SketchScope(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
        Bins.parse([r[5] for r in rows]),
    )
    t, v, f = np.concatenate(t_all), np.concatenate(v_all), np.concatenate(f_all)
    order = np.argsort(t, kind="stable")
    exact = stats_of(Samples(t[order], {"response_time": v[order]}, f[order]), 120.0, 10)
    sketched = stats_from_sketches(scope, 120.0, 10)
    assert (sketched["requests"], sketched["failures"], sketched["max"]) == (
        exact["requests"],
        exact["failures"],
        exact["max"],
    )
    for statistic in ("p50", "p95", "p99"):
        assert abs(sketched[statistic] - exact[statistic]) <= RELATIVE_ACCURACY * exact[statistic]
    assert set(sketched["spread"]) == set(exact["spread"])
    for statistic, spread in exact["spread"].items():  # other window edges (whole seconds), same size
        assert sketched["spread"][statistic].windows == spread.windows
        assert 0.5 * spread.se <= sketched["spread"][statistic].se <= 2 * spread.se, statistic


def test_any_rows_merge_as_their_own_sketches_would():
    from harness.verdict.decide.sketch_stats import Bins

    rng = np.random.default_rng(2)
    parts = [rng.lognormal(2, 1, rng.integers(0, 30)) for _ in range(40)]
    texts = [Sketch.of(p).encode() if len(p) else None for p in parts]
    bins = Bins.parse(texts)
    for rows in (np.arange(40), np.arange(5, 17), np.array([0, 3, 9, 39])):
        merged = bins.merged(rows)
        expected = Sketch.of(np.concatenate([parts[i] for i in rows]))
        assert (
            merged.keys.tolist() == expected.keys.tolist()
            and merged.counts.tolist() == expected.counts.tolist()
        )
    again = Bins.joined([bins.take(np.arange(20)), bins.take(np.arange(20, 40))])
    assert again.merged().counts.tolist() == bins.merged().counts.tolist()

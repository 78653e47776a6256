"""The fleet's merged per-second series (``request_sketch_fleet``): what the live dashboards read in
sketch mode, one series per endpoint however many workers there are.

Workers hand the master what their sketch recorder folded since their last report, inside
Locust's own worker → master stats report (``report_to_master`` / ``worker_report``, every 3 s);
the master adds the parts up per endpoint and second — bucket counts add exactly, so the merged
sketch is the sketch of all the fleet's requests — and writes each second that changed, whole, at
the second's timestamp (a later part overwrites it with the larger sum). A local runner does the
same with its own parts. The verdict does not read this series: it merges every worker's own
``request_sketch`` points, whose counts are exact even when a worker's last report was lost.
"""

from __future__ import annotations

import math

from harness.influx.lineprotocol import series_prefix
from harness.influx.sketch import FLEET_MEASUREMENT, SECOND_NS, Second, Sketch
from harness.listener.sketch_recorder import HOLD_S

MEASUREMENT = FLEET_MEASUREMENT
REPORT_KEY = "harness_sketches"  # the key in Locust's stats report


def to_wire(deltas: dict[tuple[int, str, str, str], Second]) -> list[list]:
    """Plain lists for Locust's msgpack messages."""
    out = []
    for (bucket, api, method, name), d in deltas.items():
        s = d.scheduled or Second()
        out.append(
            [
                bucket,
                api,
                method,
                name,
                d.count,
                d.failures,
                d.sum,
                d.min,
                d.max,
                d.sketch.encode(),
                s.count,
                s.sum,
                s.min,
                s.max,
                s.sketch.encode(),
            ]
        )
    return out


def from_wire(rows: list[list]) -> dict[tuple[int, str, str, str], Second]:
    out = {}
    for (
        second,
        api,
        method,
        name,
        count,
        failures,
        total,
        low,
        high,
        sketch,
        sc,
        ssum,
        smin,
        smax,
        ssk,
    ) in rows:
        d = Second(
            count=int(count),
            failures=int(failures),
            sum=float(total),
            min=float(low),
            max=float(high),
            sketch=Sketch.decode(sketch),
        )
        if sc:
            d.scheduled = Second(
                count=int(sc), sum=float(ssum), min=float(smin), max=float(smax), sketch=Sketch.decode(ssk)
            )
        out[(int(second), api, method, name)] = d
    return out


class FleetSketches:
    def __init__(self, run_id: str, test_env: str):
        self.tags = {"run_id": run_id, "test_env": test_env}
        self._held: dict[tuple[int, str, str, str], Second] = {}
        self._changed: set[tuple[int, str, str, str]] = set()

    def add(self, deltas: dict[tuple[int, str, str, str], Second]) -> None:
        for key, part in deltas.items():
            held = self._held.get(key)
            if held is None:
                held = self._held[key] = Second()
            held.add(part)
            self._changed.add(key)

    def take(self) -> list[str]:
        lines = [self._line(key) for key in sorted(self._changed)]
        self._changed.clear()
        if self._held:
            floor = max(k[0] for k in self._held) - HOLD_S * SECOND_NS
            for key in [k for k in self._held if k[0] < floor]:
                del self._held[key]
        return lines

    def _line(self, key: tuple[int, str, str, str]) -> str:
        bucket, api, method, name = key
        d = self._held[key]
        fields: dict[str, float | int | None] = {
            "count": d.count,
            "failures": d.failures,
            "sum": d.sum,
            "min": d.min,
            "max": d.max,
        }
        for p in (50, 95, 99):
            fields[f"p{p}"] = d.sketch.percentile(p, d.min, d.max)
        s = d.scheduled
        if s is not None and s.count:
            fields["scheduled_max"] = s.max
            for p in (50, 95, 99):
                fields[f"scheduled_p{p}"] = s.sketch.percentile(p, s.min, s.max)
        body = ",".join(
            f"{k}={v}i" if isinstance(v, int) else f"{k}={float(v)!r}"
            for k, v in fields.items()
            if v is not None and not (isinstance(v, float) and math.isinf(v))
        )
        prefix = series_prefix(MEASUREMENT, dict(self.tags, api=api, name=name, method=method))
        return f'{prefix}{body},sketch="{d.sketch.encode()}" {bucket}'

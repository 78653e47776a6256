"""No interleaving of hooks, flushers and the memory cap loses a batch or counts one twice.

The client writes to the real InfluxDB and yields to the other greenlets at each network wait:
before the request goes out and after the answer is in, before the writer has seen it. At every
yield other greenlets hand over lines (pushing the queue over its memory cap, so batches go to
the spool and come back), start a second flush and a spill of everything; now and then the
write fails as in an outage. Whatever the order, every point must be stored, and counted as
written exactly once."""

from __future__ import annotations

import gevent
import pytest

from harness.influx.client import InfluxClient, WriteError
from harness.influx.spool import Spool
from harness.influx.writer import BatchWriter

pytestmark = pytest.mark.influx


class YieldingClient(InfluxClient):
    """The real client, yielding to other greenlets at each network wait; every ``fail_every``-th
    write fails as if InfluxDB had gone away (before anything was sent)."""

    def __init__(self, settings, fail_every: int):
        super().__init__(settings)
        self.fail_every = fail_every
        self.writes = 0
        self.yields = 0

    def _yield(self) -> None:
        self.yields += 1
        gevent.sleep(0)

    def write(self, body: bytes, **kwargs) -> None:
        self.writes += 1
        self._yield()  # the request is about to go out
        if self.fail_every and self.writes % self.fail_every == 0:
            raise WriteError("network", "InfluxDB unreachable: injected outage")
        super().write(body, **kwargs)
        self._yield()  # InfluxDB answered; the writer has not seen it yet


@pytest.mark.parametrize("fail_every", [0, 3])
def test_hooks_flushers_and_the_cap_interleaved_at_every_network_yield(influx_db, tmp_path, fail_every):
    influx_db.create_database()
    client = YieldingClient(influx_db.settings, fail_every)
    writer = BatchWriter(client, max_pending_points=120, batch_size=40, spool=Spool(tmp_path / "spool"))
    handed_over: list[str] = []
    done = gevent.event.Event()

    def hook(name: str, per_call: int, calls: int) -> None:
        for call in range(calls):
            lines = [
                f"m,src={name} f={call * per_call + k}i {1_000_000 + call * per_call + k}"
                for k in range(per_call)
            ]
            writer.add(lines)
            handed_over.extend(lines)
            gevent.sleep(0)

    def second_flusher() -> None:
        while not done.is_set():
            writer.flush()  # must do nothing while the first one waits on the network
            writer.spill_all()  # likewise
            gevent.sleep(0)

    def flusher() -> None:
        while not done.is_set():
            writer.backoff_until = 0  # no waiting: as many interleavings as possible
            writer.flush()
            gevent.sleep(0)

    hooks = [
        gevent.spawn(hook, "a", 7, 120),
        gevent.spawn(hook, "b", 53, 30),
        gevent.spawn(hook, "c", 1, 400),
    ]
    others = [gevent.spawn(flusher), gevent.spawn(second_flusher)]
    gevent.joinall(hooks, raise_error=True)
    done.set()
    gevent.joinall(others, raise_error=True)
    client.fail_every = 0
    assert writer.drain(30) == 0 and writer.idle

    total = len(handed_over)
    assert total == 7 * 120 + 53 * 30 + 400
    assert client.yields > 100, "the test did not interleave anything"
    if fail_every:
        assert writer.counts.spooled > 0, "the memory cap never sent a batch to the spool"
    stored = influx_db.query('SELECT count("f") FROM "m" GROUP BY "src"')
    assert {s["tags"]["src"]: s["values"][0][1] for s in stored} == {"a": 7 * 120, "b": 53 * 30, "c": 400}
    assert writer.counts.written == total  # each point counted once, whether it went through the spool or not
    assert writer.counts.dropped == 0 and writer.counts.quarantined == 0
    assert not list((tmp_path / "spool").rglob("*.lp.gz"))

"""What a retry can fix: the sorting of write failures, the backoff, and the memory cap's spill."""

from __future__ import annotations

import time

import pytest

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, InfluxSettings, classify_write_failure
from harness.influx.local import LocalInfluxd
from harness.influx.spool import Spool
from harness.influx.writer import BatchWriter


@pytest.mark.parametrize("status,body,kind,retryable", [
    (500, '{"error":"timeout"}', "server", True),
    (503, "unavailable", "server", True),
    (429, "slow down", "throttled", True),
    (404, '{"error":"database not found: \\"loadtest\\""}', "database_not_found", False),
    (401, "unauthorized", "auth", False),
    (403, "forbidden", "auth", False),
    (400, '{"error":"unable to parse \'request,x\'"}', "rejected", False),
    (413, "request entity too large", "rejected", False),
])
def test_write_failures_are_sorted_by_what_a_retry_can_fix(status, body, kind, retryable):
    error = classify_write_failure(status, body)
    assert (error.kind, error.retryable) == (kind, retryable)
    assert "\n" not in str(error)


def unreachable_writer(tmp_path, max_pending=10, spool=True):
    client = InfluxClient(InfluxSettings(url="http://127.0.0.1:9", database="x", timeout_s=1))
    return BatchWriter(client, max_pending, spool=Spool(tmp_path / "spool") if spool else None)


def test_retry_after_is_honoured_and_backoff_grows(tmp_path):
    writer = unreachable_writer(tmp_path)
    writer._back_off(7.0)
    assert 6.9 < writer.backoff_until - time.monotonic() <= 7.0
    delays = []
    for _ in range(8):
        writer._back_off(None)
        delays.append(writer.backoff_until - time.monotonic())
    assert delays[-1] <= 30.0 and delays[-1] >= 15.0 - 0.1  # capped at 30 s, full jitter down to half


def test_network_errors_keep_the_batch_and_count_a_retry(tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=1000)
    writer.add(["m f=1 1", "m f=2 2"])
    assert writer.send_pending() is False
    assert (writer.pending_points, writer.counts.retried, writer.counts.dropped) == (2, 1, 0)
    assert writer.counts.errors_by_kind == {"network": 1}


def test_over_the_memory_cap_the_oldest_batches_go_to_the_spool_not_away(tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=5)
    for i in range(4):
        writer.add([f"m f={i}i {i * 10 + k}" for k in range(3)])
    assert writer.pending_points <= 5 + 3
    assert writer.counts.dropped == 0
    assert writer.counts.spooled == writer.spooled_points == 12 - writer.pending_points
    in_memory = writer.pending_points
    assert writer.spill_all() == in_memory
    assert writer.spooled_points == 12 and writer.pending_points == 0


def test_without_a_spool_the_cap_drops_and_counts(tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=5, spool=False)
    for i in range(4):
        writer.add([f"m f={i}i {i * 10 + k}" for k in range(3)])
    assert writer.counts.dropped == 12 - writer.pending_points > 0


@pytest.mark.influx
def test_spooled_batches_replay_in_order_and_are_removed(influxd, tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=2)
    for i in range(5):
        writer.add([f"m f={i}i {1000 + i}"])
    writer.spill_all()
    assert [f.seq for f in writer.spool.files] == [0, 1, 2, 3, 4]
    client = InfluxClient(InfluxSettings(url=influxd.url, database="replay"))
    client.create_database()
    writer.client = client
    writer.backoff_until = 0
    assert writer.send_pending() is True
    assert writer.spooled_points == 0 and not list((tmp_path / "spool").glob("*.lp.gz"))
    rows = client.query('SELECT "f" FROM "m"')[0]["values"]
    assert [r[1] for r in rows] == [0, 1, 2, 3, 4]


@pytest.mark.influx
def test_a_missing_database_is_created_and_the_batch_retried(influxd, tmp_path):
    client = InfluxClient(InfluxSettings(url=influxd.url, database="created_on_write"))
    created = []
    writer = BatchWriter(client, 100, create_database=lambda: (created.append(1), client.create_database()))
    writer.add(["m f=1i 1"])
    assert writer.send_pending() is True and created == [1]
    assert client.query('SELECT count("f") FROM "m"')[0]["values"][0][1] == 1


def test_no_influxd_says_how_to_get_one(tmp_path, monkeypatch):
    import harness.influx.local as local
    monkeypatch.setattr(local, "find_influxd", lambda: None)
    with pytest.raises(HarnessError, match="apt-get install -y influxdb.*docker compose"):
        LocalInfluxd(tmp_path, port=0).start()

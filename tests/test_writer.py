"""The write path: who is to blame for a failed write, what is kept, what is quarantined, what
goes to the spool and how it comes back. InfluxDB answers are the real server's."""

from __future__ import annotations

import gzip
import time

import pytest

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, InfluxSettings, classify_write_failure
from harness.influx.local import LocalInfluxd
from harness.influx.spool import QUARANTINE, Spool
from harness.influx.writer import BatchWriter


@pytest.mark.parametrize(
    "status,body,kind",
    [
        (500, '{"error":"timeout"}', "server"),
        (503, "unavailable", "server"),
        (429, "slow down", "throttled"),
        (404, '{"error":"database not found: \\"loadtest\\""}', "database_not_found"),
        (401, "unauthorized", "auth"),
        (403, '{"error":"user is not authorized to write to database \\"x\\""}', "auth"),
        # The batch's own lines: set aside one by one.
        (400, '{"error":"unable to parse \'request,x\': missing fields"}', "rejected"),
        (
            400,
            '{"error":"partial write: field type conflict: input field \\"f\\" on measurement \\"m\\" is type '
            'float, already exists as type integer dropped=1"}',
            "rejected",
        ),
        (
            422,
            '{"code":"unprocessable entity","message":"failure writing points to database: partial write: '
            'field type conflict: dropped=2"}',
            "rejected",
        ),
        (413, "request entity too large", "rejected"),
        # Everything else is the server's or the settings' fault: keep every point.
        (400, '{"error":"retention policy not found: runs"}', "refused"),
        (
            400,
            '{"error":"partial write: max-series-per-database limit exceeded: (1000) dropped=3"}',
            "refused",
        ),
        (404, "<html>Not Found</html>", "refused"),  # a URL that is not InfluxDB
        (405, "Method Not Allowed", "refused"),
    ],
)
def test_write_failures_are_sorted_by_who_is_to_blame(status, body, kind):
    error = classify_write_failure(status, body)
    assert error.kind == kind
    assert error.retryable is (kind in ("server", "throttled"))
    assert error.lines_rejected is (kind == "rejected")
    assert "\n" not in str(error)


def unreachable_writer(tmp_path, max_pending=10, spool=True, batch_size=5000, clock=time.monotonic):
    client = InfluxClient(InfluxSettings(url="http://127.0.0.1:9", database="x", timeout_s=1))
    return BatchWriter(
        client,
        max_pending,
        batch_size=batch_size,
        spool=Spool(tmp_path / "spool") if spool else None,
        clock=clock,
    )


def test_retry_after_is_honoured_and_backoff_grows(tmp_path):
    now = 1000.0  # the writer's clock stands still: the delays are exact on any machine
    writer = unreachable_writer(tmp_path, clock=lambda: now)
    writer._back_off(7.0)
    assert writer.backoff_until - now == 7.0
    writer.add(["m f=1 1"])
    assert writer.flush() is False and writer.counts.retried == 0  # no attempt while backing off
    delays = []
    for _ in range(8):
        writer._back_off(None)
        delays.append(writer.backoff_until - now)
    assert 15.0 <= delays[-1] <= 30.0  # capped at 30 s, full jitter down to half


def test_network_errors_keep_the_batch_and_count_a_retry(tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=1000)
    writer.add(["m f=1 1", "m f=2 2"])
    assert writer.flush() is False
    assert (writer.pending_points, writer.counts.retried, writer.counts.dropped) == (2, 1, 0)
    assert writer.counts.errors_by_kind == {"network": 1} and writer.refused is None


def test_over_the_memory_cap_the_oldest_batches_go_to_the_spool_not_away(tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=5, batch_size=3)
    for i in range(4):
        writer.add([f"m f={i}i {i * 10 + k}" for k in range(3)])
        writer.flush()
    assert writer.pending_points <= 5 + 3
    assert writer.counts.dropped == 0
    assert writer.counts.spooled == writer.spooled_points == 12 - writer.pending_points
    in_memory = writer.pending_points
    assert writer.spill_all() == in_memory
    assert writer.spooled_points == 12 and writer.pending_points == 0


def test_without_a_spool_the_cap_drops_and_counts(tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=5, spool=False, batch_size=3)
    for i in range(4):
        writer.add([f"m f={i}i {i * 10 + k}" for k in range(3)])
        writer.flush()
    assert writer.counts.dropped == 12 - writer.pending_points > 0


def test_spool_files_hold_batches_however_slowly_lines_arrive(tmp_path):
    # One line a flush (a quiet worker, or the counts line during a long outage) must not make
    # one file a point: lines fill the newest batch of their retention policy.
    writer = unreachable_writer(tmp_path, max_pending=100_000, batch_size=50)
    for i in range(120):
        writer.add([f"m f={i}i {i}"])
        writer.add([f'events title="e{i}" {i}'], "runs")
        writer.backoff_until = 0
        writer.flush()
    assert writer.drain(0) == 240
    files = writer.spool.files
    assert sorted((f.retention_policy, f.points) for f in files) == [
        ("", 20),
        ("", 50),
        ("", 50),
        ("runs", 20),
        ("runs", 50),
        ("runs", 50),
    ]
    replayed = [
        line
        for f in sorted(files, key=lambda f: f.seq)
        if f.retention_policy == ""
        for line in gzip.decompress(f.read()).decode().splitlines()
    ]
    assert replayed == [f"m f={i}i {i}" for i in range(120)]  # in order, each once


@pytest.mark.influx
def test_spooled_batches_replay_in_order_and_are_removed(influxd, tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=2, batch_size=1)
    for i in range(5):
        writer.add([f"m f={i}i {1000 + i}"])
    writer.spill_all()
    assert [f.seq for f in writer.spool.files] == [0, 1, 2, 3, 4]
    client = InfluxClient(InfluxSettings(url=influxd.url, database="replay"))
    client.create_database()
    writer.client = client
    writer.backoff_until = 0
    assert writer.flush() is True
    assert writer.spooled_points == 0 and not list((tmp_path / "spool").glob("*.lp.gz"))
    rows = client.query('SELECT "f" FROM "m"')[0]["values"]
    assert [r[1] for r in rows] == [0, 1, 2, 3, 4]


@pytest.mark.influx
def test_a_spool_file_another_process_replayed_meanwhile_is_skipped(influxd, tmp_path):
    writer = unreachable_writer(tmp_path, max_pending=0, batch_size=1)
    writer.add([f"m f={i}i {2000 + i}" for i in range(3)])
    writer.spill_all()
    writer.spool.files[1].path.unlink()  # as `harness flush` in another shell does
    client = InfluxClient(InfluxSettings(url=influxd.url, database="replayed_elsewhere"))
    client.create_database()
    writer.client, writer.backoff_until = client, 0
    assert writer.flush() is True and writer.counts.written == 2


@pytest.mark.influx
def test_a_missing_database_is_created_and_the_batch_retried(influxd, tmp_path):
    client = InfluxClient(InfluxSettings(url=influxd.url, database="created_on_write"))
    created = []
    writer = BatchWriter(client, 100, create_database=lambda: (created.append(1), client.create_database()))
    writer.add(["m f=1i 1"])
    assert writer.flush() is True and created == [1]
    assert client.query('SELECT count("f") FROM "m"')[0]["values"][0][1] == 1


def spool_bytes(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.influx
@pytest.mark.parametrize(
    "user,password,database,needle",
    [
        ("admin", "wrong", "refusing", "credentials"),
        ("", "", "refusing", "credentials"),
        ("admin", "right", "never_created", "database not found"),
        ("reader", "only-reads", "refusing", "not authorized to write"),  # a user without write permission
    ],
)
def test_a_refusing_influxdb_takes_nothing_out_of_the_spool(
    influxd_with_auth, tmp_path, user, password, database, needle
):
    admin = InfluxClient(
        InfluxSettings(url=influxd_with_auth.url, database="refusing", username="admin", password="right")
    )
    admin.create_database()
    admin.query_results("CREATE USER \"reader\" WITH PASSWORD 'only-reads'", method="POST", epoch="")
    admin.query_results('GRANT READ ON "refusing" TO "reader"', method="POST", epoch="")
    writer = unreachable_writer(tmp_path, max_pending=0, batch_size=2)
    writer.add([f"m f={i}i {i}" for i in range(5)])
    writer.spill_all()
    before = spool_bytes(tmp_path / "spool")
    refusing = InfluxClient(
        InfluxSettings(url=influxd_with_auth.url, database=database, username=user, password=password)
    )
    replay = BatchWriter(refusing, 0, spool=Spool(tmp_path / "spool"))
    assert replay.drain(5) == 0 and not replay.idle
    assert needle in str(replay.refused)
    assert replay.counts.written == 0 and spool_bytes(tmp_path / "spool") == before  # byte for byte


@pytest.mark.influx
def test_lines_influxdb_refuses_go_to_quarantine_and_the_rest_is_stored(influxd, tmp_path):
    client = InfluxClient(InfluxSettings(url=influxd.url, database="quarantine"))
    client.create_database()
    client.write(
        b"request,run_id=q response_time=1.5,response_length=3i 1\n"
    )  # response_length is an integer
    good = [f"request,run_id=q response_time={i}.5,response_length={i}i {1000 + i}" for i in range(40)]
    conflict = [
        "request,run_id=q response_time=2.5,response_length=3.5 2001",  # float into an integer field
        "request,run_id=q response_time=2.5,response_length=4.5 2002",
    ]
    unparsable = ["request,run_id=q response_time= 3001"]
    lines = good[:10] + conflict[:1] + good[10:30] + unparsable + good[30:] + conflict[1:]
    writer = BatchWriter(
        client, 1000, spool=Spool(tmp_path / "spool"), record_tags={"run_id": "q", "worker": "w1"}
    )
    writer.add(lines)
    assert writer.flush() is True
    stored = client.query('SELECT count("response_time") FROM "request" WHERE "run_id" = \'q\'')[0]["values"][
        0
    ][1]
    assert stored == 1 + len(good)
    assert (writer.counts.written, writer.counts.quarantined) == (len(good), 3)
    text = (tmp_path / "spool" / QUARANTINE).read_text()
    kept = [line for line in text.splitlines() if not line.startswith("#")]
    assert sorted(kept) == sorted(conflict + unparsable)
    assert "field type conflict" in text and "unable to parse" in text
    record = client.query('SELECT "points", "request_points", "worker", "file" FROM "quarantine"')[0][
        "values"
    ]
    assert [row[1:4] for row in record] == [[3, 3, "w1"]] and record[0][4].endswith(QUARANTINE)


def test_no_influxd_says_how_to_get_one(tmp_path, monkeypatch):
    import harness.influx.local as local

    monkeypatch.setattr(local, "find_influxd", lambda: None)
    with pytest.raises(HarnessError, match="apt-get install -y influxdb.*docker compose"):
        LocalInfluxd(tmp_path, port=0).start()


@pytest.fixture
def not_influxdb():
    """A real HTTP server on loopback that is not InfluxDB: answers every POST with the status
    the test sets (200 as a catch-all web app would, 404 as most servers do)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(answer["status"])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answer
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [200, 404])
def test_a_url_that_is_not_influxdb_takes_nothing_out_of_the_spool(not_influxdb, tmp_path, status):
    url, answer = not_influxdb
    answer["status"] = status
    writer = unreachable_writer(tmp_path, max_pending=0, batch_size=2)
    writer.add([f"m f={i}i {i}" for i in range(5)])
    writer.spill_all()
    before = spool_bytes(tmp_path / "spool")
    replay = BatchWriter(
        InfluxClient(InfluxSettings(url=url, database="x")), 0, spool=Spool(tmp_path / "spool")
    )
    assert replay.drain(5) == 0 and not replay.idle
    assert replay.refused is not None and f"HTTP {status}" in str(replay.refused)
    assert replay.counts.written == 0 and spool_bytes(tmp_path / "spool") == before

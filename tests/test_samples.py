"""The raw-value reader against a real InfluxDB: MessagePack fast path, its fallback for rows of
another shape, and the JSON answer of servers without MessagePack, all giving the same arrays."""

from __future__ import annotations

import numpy as np
import pytest

from harness.influx.client import json_series
from harness.influx.lineprotocol import make_line
from harness.influx.msgpack_series import numeric_series
from harness.verdict.reads.samples import read_samples, samples_statement

pytestmark = pytest.mark.influx

T0 = 1_700_000_000_000_000_000


def write(client, count: int, *, second_field_every: int = 0) -> None:
    client.create_database()
    rng = np.random.default_rng(3)
    lines = []
    for i in range(count):
        fields = {"response_time": float(rng.lognormal(1.5, 0.7))}
        if second_field_every and i % second_field_every == 0:
            fields["scheduled_response_time"] = fields["response_time"] + 1.0
        name = ("/health", "/api/v1/payments")[i % 2]
        tags = {
            "run_id": "r",
            "test_env": "t",
            "api": ("auth", "payments")[i % 2],
            "name": name,
            "method": "GET",
            "result": "fail" if i % 50 == 0 else "ok",
            "status": 200,
            "worker": f"w{i % 3}",
        }
        lines.append(make_line("request", tags, fields, T0 + i * 1000))
    for first in range(0, len(lines), 50_000):
        client.write(("\n".join(lines[first : first + 50_000]) + "\n").encode())


def json_read(client, statement: str) -> dict[tuple, list[list]]:
    """The same query answered as JSON (what 2.x/3.x send), parsed by the generic reader."""
    response = client.session.get(
        f"{client.base}/query",
        stream=True,
        params={
            "q": statement,
            "db": client.settings.database,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": "20000",
        },
    )
    rows: dict[tuple, list[list]] = {}
    for series in json_series(response.iter_content(1 << 20), statement):
        tags = series["tags"]
        rows.setdefault((tags["api"], tags["method"], tags["name"], tags["result"]), []).extend(
            series["values"]
        )
    return rows


def test_msgpack_rows_over_many_chunks_and_blocks_equal_the_json_answer(influx_db):
    write(influx_db, 120_000)  # ~2.3 MB of MessagePack: documents cross the 1 MB read blocks
    statement = samples_statement("r", T0, T0 + 10**12)
    kind, blocks = influx_db.query_chunked(statement)
    assert "msgpack" in kind
    pieces = list(numeric_series(blocks, statement))
    assert len(pieces) > 6 and sum(len(rows) for _, rows in pieces) == 120_000  # chunks of 20,000 rows
    expected = json_read(influx_db, statement)
    samples = read_samples(influx_db, "r", T0, T0 + 10**12)
    for (api, method, name), s in samples.items():
        ok = [row[1] for row in expected[(api, method, name, "ok")]]
        failed = [row[1] for row in expected.get((api, method, name, "fail"), [])]
        assert np.array_equal(np.sort(s.values["response_time"]), np.sort(ok + failed))
        assert int(s.failed.sum()) == len(failed) and np.all(np.diff(s.t_ns) >= 0)


def test_a_second_field_missing_on_some_points_is_nan_through_the_fallback(influx_db):
    write(influx_db, 3000, second_field_every=3)
    fields = ("response_time", "scheduled_response_time")
    samples = read_samples(influx_db, "r", T0, T0 + 10**12, fields=fields)
    expected = json_read(influx_db, samples_statement("r", T0, T0 + 10**12, fields))
    for (api, method, name), s in samples.items():
        rows = sorted(expected[(api, method, name, "ok")] + expected.get((api, method, name, "fail"), []))
        scheduled = np.array([np.nan if row[2] is None else row[2] for row in rows])
        assert np.array_equal(s.values["scheduled_response_time"], scheduled, equal_nan=True)
        assert np.isnan(s.values["scheduled_response_time"]).sum() == sum(row[2] is None for row in rows) > 0


def test_the_window_includes_both_ends(influx_db):
    write(influx_db, 100)
    samples = read_samples(influx_db, "r", T0 + 10 * 1000, T0 + 20 * 1000)
    assert sum(s.count for s in samples.values()) == 11

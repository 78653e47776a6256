"""``harness flush``: lines InfluxDB refuses one by one are set aside, not lost, and said so."""

from __future__ import annotations

import pytest

from harness import cli
from harness.influx.spool import QUARANTINE, Spool, worker_spool_dir

pytestmark = pytest.mark.influx


def test_flush_stores_the_good_lines_and_quarantines_the_refused_ones(influx_db, tmp_path, capsys):
    db = influx_db.settings.database
    influx_db.create_database()
    influx_db.write(b"request,run_id=fq response_length=1i,response_time=1.5 1\n")
    folder = worker_spool_dir(tmp_path / "spool", db, "fq", "host-1")
    good = [f"request,run_id=fq response_length={i}i,response_time={i}.5 {100 + i}" for i in range(30)]
    conflict = "request,run_id=fq response_length=2.5,response_time=2.5 500"  # a float into an integer field
    Spool(folder).put(("\n".join(good[:12] + [conflict] + good[12:]) + "\n").encode(), 31, "")

    code = cli.main(
        [
            "flush",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--influx-url",
            influx_db.settings.url,
            "--influx-db",
            db,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "flushed 30 points" in out and "refused 1 lines one by one" in out and QUARANTINE in out
    assert influx_db.query('SELECT count("response_time") FROM "request"')[0]["values"][0][1] == 31
    assert conflict in (folder / QUARANTINE).read_text()
    record = influx_db.query('SELECT "request_points", "run_id", "worker" FROM "quarantine"')[0]["values"]
    assert [row[1:] for row in record] == [[1, "fq", "host-1"]]

    again = cli.main(
        [
            "flush",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--influx-url",
            influx_db.settings.url,
            "--influx-db",
            db,
        ]
    )
    out = capsys.readouterr().out
    assert again == 0 and "nothing spooled" in out and "refused earlier are kept" in out

"""Run data takes the same write path as request points: retried, and spooled rather than lost."""

from __future__ import annotations

import pytest

import harness.rundata as rundata
from harness.commands.common import flush_spool
from harness.influx.client import InfluxClient, InfluxSettings, WriteError

pytestmark = pytest.mark.influx


class FailingFirst(InfluxClient):
    """The real client, whose first write is answered as by an overloaded InfluxDB."""

    def __init__(self, settings):
        super().__init__(settings)
        self.writes = 0

    def write(self, body: bytes, **kwargs) -> None:
        self.writes += 1
        if self.writes == 1:
            raise WriteError("server", "InfluxDB server error (HTTP 503): overloaded", 503, retry_after=0.2)
        super().write(body, **kwargs)


def stored_status(client, run_id: str):
    series = client.query(f'SELECT "status", "users" FROM "runs"."run" WHERE "run_id" = \'{run_id}\'')
    return [row[1:] for row in series[0]["values"]] if series else []


def test_a_503_at_the_end_of_a_run_is_retried(influx_db, tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUX_SPOOL_DIR", str(tmp_path / "spool"))
    influx_db.create_database()
    influx_db.create_retention_policy("runs", "INF")
    client = FailingFirst(influx_db.settings)
    rundata.RunRecord(client, "runs", "r503", "local").write_run({"status": "completed", "users": 20}, 1_000)
    assert client.writes == 2
    assert stored_status(influx_db, "r503") == [["completed", 20]]
    assert not list((tmp_path / "spool").rglob("*.lp.gz"))


def test_run_data_influxdb_did_not_take_waits_in_the_spool_in_order(influx_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INFLUX_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setattr(rundata, "RETRY_S", 0.5)
    away = InfluxClient(
        InfluxSettings(url="http://127.0.0.1:9", database=influx_db.settings.database, timeout_s=1)
    )
    rundata.RunRecord(away, "runs", "away", "local").write_run({"status": "running", "users": 20}, 1_000)
    rundata.RunRecord(away, "runs", "away", "local").write_run({"status": "completed", "users": 20}, 1_000)
    warning = capsys.readouterr().err
    assert "run data of run away is not stored yet" in warning and "harness flush" in warning
    folder = tmp_path / "spool" / influx_db.settings.database / "away" / "harness"
    assert len(list(folder.glob("*.lp.gz"))) == 2

    influx_db.create_database()
    influx_db.create_retention_policy("runs", "INF")
    result = flush_spool(influx_db, tmp_path / "spool")
    assert result.written == 2
    assert stored_status(influx_db, "away") == [
        ["completed", 20]
    ]  # replayed in order: the latest status wins

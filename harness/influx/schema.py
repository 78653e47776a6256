"""Make sure the database and the long-lived retention policy exist (InfluxDB 1.x).

On 2.x/3.x the v1 API cannot create buckets: the database must be a bucket with a DBRP mapping
(virtual from 2.5 on), which docker-compose.monitoring.yml and docs/dashboards.md set up."""

from __future__ import annotations

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, QueryError, quote_ident

RAW_RETENTION = "30d"  # raw per-request points; run data in the runs RP is kept forever


def ensure_database(client: InfluxClient, runs_rp: str) -> None:
    try:
        series = client.query("SHOW DATABASES", database="", epoch="")
    except QueryError as exc:
        raise HarnessError(f"cannot list databases on {client.settings.url}: {exc}") from None
    names = {row[0] for s in series for row in s.get("values", [])}
    db = client.settings.database
    if db not in names:
        try:
            client.query_results(f"CREATE DATABASE {quote_ident(db)} WITH DURATION {RAW_RETENTION} "
                                 f"REPLICATION 1 NAME \"raw\"", method="POST", epoch="")
        except QueryError as exc:
            raise HarnessError(f"database {db!r} does not exist and cannot be created: {exc}") from None
    if runs_rp:
        policies = {row[0] for s in client.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}", epoch="")
                    for row in s.get("values", [])}
        if runs_rp not in policies:
            client.create_retention_policy(runs_rp, "INF")

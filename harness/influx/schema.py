"""Make sure the database and the long-lived retention policy exist.

InfluxDB 1.x: create them when missing (``CREATE DATABASE`` is what the v1 API offers).
InfluxDB 2.x/3.x: the v1 API cannot create buckets, so check that the database answers and say
what to create when it does not (buckets ``loadtest`` and ``loadtest/runs``; see
docs/dashboards.md)."""

from __future__ import annotations

import logging

from harness.errors import HarnessError
from harness.influx.client import InfluxClient, QueryError, quote_ident

RAW_RETENTION = "30d"  # raw per-request points; run data in the runs RP is kept forever
log = logging.getLogger("harness.influx")


def is_v1(version: str) -> bool:
    return version.lstrip("v").startswith("1.")


def ensure_database(client: InfluxClient, runs_rp: str, version: str | None = None) -> None:
    version = version if version is not None else client.ping()
    if is_v1(version):
        _ensure_v1(client, runs_rp)
    else:
        _check_v2_v3(client, runs_rp, version)


def _ensure_v1(client: InfluxClient, runs_rp: str) -> None:
    try:
        series = client.query("SHOW DATABASES", database="", epoch="")
    except QueryError as exc:
        raise HarnessError(f"cannot list databases on {client.settings.url}: {exc}") from None
    names = {row[0] for s in series for row in s.get("values", [])}
    db = client.settings.database
    if db not in names:
        try:
            client.query_results(
                f'CREATE DATABASE {quote_ident(db)} WITH DURATION {RAW_RETENTION} REPLICATION 1 NAME "raw"',
                method="POST",
                epoch="",
            )
        except QueryError as exc:
            raise HarnessError(f"database {db!r} does not exist and cannot be created: {exc}") from None
    if runs_rp and runs_rp not in _policies(client):
        client.create_retention_policy(runs_rp, "INF")


def _policies(client: InfluxClient) -> set[str]:
    return {
        row[0]
        for s in client.query(f"SHOW RETENTION POLICIES ON {quote_ident(client.settings.database)}", epoch="")
        for row in s.get("values", [])
    }


def _check_v2_v3(client: InfluxClient, runs_rp: str, version: str) -> None:
    db = client.settings.database
    try:
        client.query("SHOW MEASUREMENTS LIMIT 1", epoch="")
    except QueryError as exc:
        raise HarnessError(
            f"database {db!r} does not answer on InfluxDB {version} ({exc}); create bucket {db!r} "
            f"(and {db + '/' + runs_rp!r}) with a DBRP mapping, see docs/dashboards.md"
        ) from None
    if runs_rp:
        try:
            visible = runs_rp in _policies(client)
        except QueryError:
            visible = False
        if not visible:
            # Not fatal: 2.x lists only explicit DBRP mappings here, not the virtual ones.
            log.warning(
                "retention policy %r of database %r is not listed on InfluxDB %s; run data needs "
                "bucket %r (virtual DBRP mapping from 2.5 on) or --influx-runs-rp ''",
                runs_rp,
                db,
                version,
                f"{db}/{runs_rp}",
            )

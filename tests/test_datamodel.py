"""The data model is spelled once (harness/influx/datamodel.py): docs/data-model.md describes the
same measurements, tags and event types, every query in harness/ reads a measurement of it, and
peak users has one definition, which counts a worker's two samples in one second once."""

from __future__ import annotations

import re

from harness.influx import datamodel
from harness.influx.lineprotocol import make_line
from harness.verdict import peak_users
from tests.helpers import ROOT

DOC = (ROOT / "docs" / "data-model.md").read_text()


def _sections() -> dict[str, tuple[str, str]]:
    """measurement → (the ``##`` part it is described in, its ``###`` section's text)."""
    out, part = {}, ""
    for block in re.split(r"\n(?=##+ )", DOC):
        if block.startswith("## "):
            part = block.splitlines()[0]
        match = re.match(r"### `(\w+)`", block)
        if match:
            out[match.group(1)] = (part, block)
    return out


def test_the_doc_describes_exactly_the_measurements_of_the_data_model():
    assert set(_sections()) == datamodel.NAMES


def test_each_measurement_is_documented_under_its_retention_policy_with_its_tags():
    sections = _sections()
    for m in datamodel.MEASUREMENTS:
        part, text = sections[m.name]
        expected = "## Raw data" if m.policy == datamodel.RAW else "## Long-lived data"
        assert part.startswith(expected), f"{m.name} is described under {part!r}"
        missing = [tag for tag in m.tags if f"`{tag}`" not in text]
        assert not missing, f"docs/data-model.md, {m.name}: tags {missing} not described"


def test_the_doc_lists_every_event_type():
    _, text = _sections()[datamodel.EVENTS.name]
    documented = set(re.findall(r"`(\w+)`", text.split("fields", 1)[0]))
    assert set(datamodel.EVENT_TYPES) <= documented
    assert documented - set(datamodel.EVENT_TYPES) <= {"events", "run_id", "test_env", "type", "scope"}


def test_every_query_in_the_harness_reads_a_measurement_of_the_data_model():
    found = {}
    for path in (ROOT / "harness").rglob("*.py"):
        for name in re.findall(r'FROM \\?"(\w+)\\?"(?!\.)', path.read_text()):
            found.setdefault(name, path.relative_to(ROOT))
    assert {"request", "users"} <= set(found)  # the pattern finds the readers' queries
    unknown = {name: str(path) for name, path in found.items() if name not in datamodel.NAMES}
    assert not unknown, f"measurements not in harness/influx/datamodel.py: {unknown}"


def test_the_events_line_carries_the_annotation_fields_and_extra_ones():
    line = datamodel.event_line(
        "r1", "ci", datamodel.EVENT_ABORT, "Run aborted", "why", 5, extra_fields={"kind": "fail"}
    )
    assert line == make_line(
        "events",
        {"run_id": "r1", "test_env": "ci", "type": "abort"},
        {"title": "Run aborted", "text": "why", "tags": "abort,ci", "kind": "fail"},
        5,
    )


def test_a_worker_reporting_twice_in_one_second_is_counted_once(influx_db):
    """Peak users sums each worker's last count per second: w1 wrote 10 and then 12 within one
    second, w2 wrote 5; 17 users ran at once, not 27."""
    influx_db.create_database()
    t0 = 1_700_000_000 * 10**9
    points = [
        ("w1", 10, t0 + 100_000_000),
        ("w1", 12, t0 + 900_000_000),
        ("w2", 5, t0 + 500_000_000),
        ("w1", 12, t0 + 1_100_000_000),
        ("w2", 4, t0 + 1_200_000_000),
    ]
    influx_db.write(
        "\n".join(
            make_line("users", {"run_id": "r", "test_env": "t", "worker": w}, {"users": u}, ts)
            for w, u, ts in points
        ).encode()
        + b"\n"
    )
    assert peak_users(influx_db, "r", t0, t0 + 2 * 10**9) == 17


def test_run_summary_stores_the_peak_users_the_verdict_judged_with(influx_db):
    """One figure, not two readings: run_summary's peak_users is the verdict's."""
    from datetime import datetime, timezone

    from harness.rundata import store_verdict
    from harness.verdict import Measurements, Thresholds, evaluate

    influx_db.create_database()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    measured = Measurements(
        run_id="peak", test_env="t", start=start, end=start, duration_s=60.0, warmup_s=0.0, peak_users=17
    )
    store_verdict(influx_db, "", evaluate(Thresholds(), measured))
    (series,) = influx_db.query(
        'SELECT "peak_users" FROM "run_summary" WHERE "run_id" = \'peak\' AND "scope" = \'run\''
    )
    assert series["values"][0][1] == 17

"""The hand-built line protocol equals influxdb_client's Point, and round-trips through a real
InfluxDB unchanged."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from influxdb_client import Point

from harness.influx.lineprotocol import make_line, series_prefix

# Awkward but printable: spaces, commas, '=', quotes, backslashes, unicode.
awkward = st.text(
    alphabet=st.sampled_from(
        list(string.ascii_letters + string.digits + " ,=\"'\\/[]{}:-_.") + ["é", "ü", "漢", "🙂", "ß"]
    ),
    min_size=1,
    max_size=30,
)
tag_value = awkward.filter(lambda s: s.strip() != "" and not s.endswith("\\"))


@given(
    measurement=awkward.filter(lambda s: not s.startswith("#")),
    tags=st.dictionaries(awkward, tag_value, max_size=4),
    fields=st.dictionaries(
        awkward,
        st.one_of(
            st.integers(-(2**63), 2**63 - 1),
            awkward,
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    ),
    ts=st.integers(0, 2**62),
)
def test_make_line_equals_influxdb_client_point(measurement, tags, fields, ts):
    point = Point(measurement).time(ts)
    for key, value in tags.items():
        point.tag(key, value)
    for key, value in fields.items():
        point.field(key, value)
    assert make_line(measurement, tags, fields, ts) == point.to_line_protocol()


def test_prefix_leaves_out_empty_tags_and_sorts():
    assert series_prefix("request", {"b": "2", "a": "1", "empty": ""}) == "request,a=1,b=2 "


def test_control_characters_in_tags_become_spaces():
    assert series_prefix("m", {"name": "a\nb\tc"}) == "m,name=a\\ b\\ c "


@pytest.mark.influx
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=tag_value, error=st.text(min_size=1, max_size=200))
def test_names_and_errors_round_trip_through_influxdb(influx_db, name, error):
    client = influx_db
    client.create_database()
    line = make_line("request", {"name": name, "run_id": "rt"}, {"error": error, "response_time": 1.5}, 1_000)
    client.write(line.encode("utf-8"))
    series = client.query('SELECT "error", "name" FROM "request" WHERE time = 1000ns')
    rows = series[0]["values"]
    client.query_results('DELETE FROM "request"', method="POST", epoch="")
    assert rows == [[1000, error, name]]

"""Numeric series out of a chunked MessagePack ``/query`` answer, without a Python object per value.

InfluxDB 1.x encodes each row of a numeric SELECT as a fixed-size MessagePack array: ``0x92``
(two items), the time as a 64-bit integer (``0xd3``/``0xcf`` + 8 bytes) and each field as a
64-bit float (``0xcb`` + 8 bytes). Such rows are read straight into numpy (``np.frombuffer``), a
tenth of the CPU of unpacking them into lists (bench/README.md). A row of any other shape (a
missing field is ``nil``, an integer field) sends that block of rows through msgpack itself, so
the result never depends on the fast path.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import Any

import msgpack
import numpy as np

from harness.influx.client import QueryError

Series = tuple[dict[str, str], np.ndarray]  # (tags, rows: float64, column 0 = time in ns)


def _row_type(fields: int) -> np.dtype:
    parts = [("array", "u1"), ("time_marker", "u1"), ("time", ">i8")]
    for i in range(fields):
        parts += [(f"marker{i}", "u1"), (f"value{i}", ">f8")]
    return np.dtype(parts)


def numeric_series(blocks: Iterable[bytes], influxql: str) -> Iterator[Series]:
    """Every (tags, rows) piece of every chunk document, in the order InfluxDB sent them."""
    pending: list[bytes] = []
    size = 0
    for block in blocks:
        pending.append(block)
        size += len(block)
        # The socket hands over a few kB at a time: parse only once a good share of a document
        # (~19 bytes a row, 20,000 rows) may have arrived, or an unfinished one is walked again
        # and again.
        if size >= _PARSE_EVERY:
            rest = yield from _complete_documents(b"".join(pending), influxql)
            pending, size = [rest], len(rest)
    rest = yield from _complete_documents(b"".join(pending), influxql)
    if rest.strip():
        raise QueryError(f"InfluxDB's answer to {influxql[:80]!r} ended in the middle of a document")


_PARSE_EVERY = 1 << 20


def _complete_documents(buffer: bytes, influxql: str) -> Generator[Series, None, bytes]:
    """Yields the series of every complete document in ``buffer``; returns the unfinished rest."""
    done = 0
    while done < len(buffer):
        found, end = _one_document(buffer, done, influxql)
        if end is None:
            break  # the rest of this document has not arrived yet
        yield from found
        done = end
    return buffer[done:]


def _one_document(data: bytes, start: int, influxql: str) -> tuple[list[Series], int | None]:
    """The series of the document at ``start`` and where it ends; ([], None) if incomplete."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=0)
    unpacker.feed(memoryview(data)[start:])
    found: list[Series] = []
    try:
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            if key == "error":
                raise QueryError(f"InfluxDB: {unpacker.unpack()}")
            if key != "results":
                unpacker.skip()
                continue
            for _ in range(unpacker.read_array_header()):
                found += _result(unpacker, data, start, influxql)
    except msgpack.OutOfData:
        return [], None
    return found, start + unpacker.tell()


def _result(unpacker: msgpack.Unpacker, data: bytes, offset: int, influxql: str) -> list[Series]:
    found = []
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        if key == "error":
            raise QueryError(f"InfluxDB: {unpacker.unpack()} (in {influxql[:120]!r})")
        if key != "series":
            unpacker.skip()
            continue
        for _ in range(unpacker.read_array_header()):
            found.append(_series(unpacker, data, offset))
    return found


def _series(unpacker: msgpack.Unpacker, data: bytes, offset: int) -> Series:
    tags: dict[str, str] = {}
    columns: list[str] = []
    rows = np.empty((0, 0))
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        if key == "tags":
            tags = unpacker.unpack() or {}
        elif key == "columns":
            columns = unpacker.unpack()
        elif key == "values":
            count = unpacker.read_array_header()
            first = unpacker.tell()
            for _ in range(count):
                unpacker.skip()
            rows = _rows(data, offset + first, offset + unpacker.tell(), count, len(columns) - 1)
        else:
            unpacker.skip()
    return tags, rows


def _rows(data: bytes, first: int, end: int, count: int, fields: int) -> np.ndarray:
    row_type = _row_type(fields)
    if count and end - first == count * row_type.itemsize:
        rows = np.frombuffer(data, row_type, count, first)
        if (
            (rows["array"] == 0x90 + fields + 1).all()
            and np.isin(rows["time_marker"], (0xD3, 0xCF)).all()
            and all((rows[f"marker{i}"] == 0xCB).all() for i in range(fields))
        ):
            table = np.empty((count, fields + 1))
            table[:, 0] = rows["time"]
            for i in range(fields):
                table[:, i + 1] = rows[f"value{i}"]
            return table
    values: list[Any] = msgpack.unpackb(b"\x90" if not count else _array_header(count) + data[first:end])
    return np.array(values, dtype=np.float64).reshape(count, fields + 1)


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes([0x90 + count])
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")

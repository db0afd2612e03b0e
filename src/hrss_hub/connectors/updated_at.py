"""The source's own update time of each record (``source_updated_at``).

Which record of an entity key wins is decided by the data (:mod:`hrss_hub.exchange.winner`):
source precedence, then this time, newer first. It comes from the stream's ``updated_at:``
column, else its cursor column (SQL ``cursor:``, REST ``incremental.cursor_field``), so a
record's fate never depends on which task extracted it first.

Values without a zone are read in Beijing time (:data:`NAIVE_TIMEZONE`), where the bureaus'
systems run; values with one are converted. A value that is not a time becomes null: such
a record loses to one with a time, and the rest of the winner rule still decides by data.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import ConfigError

#: the zone of update times written without one
NAIVE_TIMEZONE = "Asia/Shanghai"
#: the exchange's type of ``source_updated_at``
UPDATED_AT_TYPE = pa.timestamp("us", tz="UTC")


def source_updated_at(batch: pa.RecordBatch | pa.Table, column: str | None, *,
                      explicit: bool = False, where: str = "") -> pa.Array:
    """``column`` of ``batch`` as UTC timestamps (all null when there is no such column).

    ``explicit``: the column was configured as ``updated_at:`` — then a missing column is
    a :class:`ConfigError` naming ``where`` (a cursor missing from a batch is the
    connector's problem, reported there, so it only gives nulls here).
    """
    n = batch.num_rows
    if column is None or column not in batch.schema.names:
        if explicit and column is not None:
            raise ConfigError(f"updated_at column {column!r} is not in the source's columns",
                              {"stream": where, "columns": ", ".join(batch.schema.names)},
                              "name a column the stream reads, or drop updated_at: to use "
                              "the cursor")
        return pa.nulls(n, UPDATED_AT_TYPE)
    values = batch.column(column)
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return as_utc(arr)


def as_utc(arr: pa.Array) -> pa.Array:
    """Times, dates or their text as ``timestamp[us, UTC]`` (unreadable values: null)."""
    t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            arr = pc.assume_timezone(arr.cast(pa.timestamp("us")), NAIVE_TIMEZONE,
                                     ambiguous="earliest", nonexistent="earliest")
        return arr.cast(UPDATED_AT_TYPE)
    if pa.types.is_date(t):
        return as_utc(arr.cast(pa.timestamp("us")))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return _parse_text(arr.cast(pa.string()))
    return pa.nulls(len(arr), UPDATED_AT_TYPE)


#: the shapes most systems write, parsed by Arrow kernels (:func:`_parse_fast`): the
#: ``strptime`` format and how to write a parsed value back as text in that shape
_FAST_FORMATS: tuple[tuple[str, pa.DataType, str | None], ...] = (
    ("%Y-%m-%d %H:%M:%S", pa.timestamp("s"), None),
    ("%Y-%m-%dT%H:%M:%S", pa.timestamp("s"), "T"),
    ("%Y-%m-%d", pa.date32(), None),
)
#: from this year on, Beijing time is UTC+8 without daylight saving time (China observed
#: it 1986-1991): a naive time there has one meaning, which Arrow's zone conversion and
#: Python's ``zoneinfo`` agree on; earlier years take the Python path
_FIXED_OFFSET_SINCE = 1992


def _parse_text(arr: pa.Array) -> pa.Array:
    # most values are in one of a few plain shapes: Arrow parses those without a Python
    # step per value (a cursor column has ~one distinct time per few rows: at 1M rows the
    # per-value parse below cost seconds); the rest go the exact Python way
    fast, done = _parse_fast(arr)
    rest = pc.and_(pc.invert(done), pc.is_valid(arr))
    if not pc.any(rest).as_py():
        return fast
    slow = _parse_python(pc.if_else(rest, arr, pa.scalar(None, pa.string())))
    return pc.if_else(done, fast, slow)


def _parse_fast(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(times, parsed) for the values written exactly in one of ``_FAST_FORMATS`` in a
    year from ``_FIXED_OFFSET_SINCE``; ``times`` is null where ``parsed`` is False.

    Arrow's ``strptime`` is lenient (it rolls 2024-02-30 over to March, ignores padding):
    a value counts only if writing the parsed time back gives the same text, so it is one
    Python's ISO reader reads the same way. (Written back by a cast: ``strftime`` costs
    ~40x more.)"""
    naive = pa.timestamp("us")
    result = pa.nulls(len(arr), naive)
    done = pa.repeat(pa.scalar(False), len(arr))
    for fmt, shape, separator in _FAST_FORMATS:
        parsed = pc.strptime(arr, format=fmt, unit="us", error_is_null=True)
        back = pc.cast(parsed.cast(shape), pa.string())
        if separator is not None:
            back = pc.binary_replace_slice(back, 10, 11, separator)
        exact = pc.and_(pc.fill_null(pc.equal(back, arr), False),
                        pc.fill_null(pc.greater_equal(pc.year(parsed), _FIXED_OFFSET_SINCE),
                                     False))
        exact = pc.and_(exact, pc.invert(done))
        result = pc.if_else(exact, parsed, result)
        done = pc.or_(done, exact)
        if pc.all(pc.or_(done, pc.is_null(arr))).as_py():
            break
    local = pc.assume_timezone(result, NAIVE_TIMEZONE)
    return local.cast(UPDATED_AT_TYPE), done


def _parse_python(arr: pa.Array) -> pa.Array:
    # each distinct text is parsed once (cursor columns repeat values a lot) with Python's
    # ISO-8601 reader, which takes "T" or " ", fractions, "Z" and offsets alike
    distinct = pc.unique(arr)
    zone = ZoneInfo(NAIVE_TIMEZONE)
    parsed: list[datetime | None] = []
    for text in distinct.to_pylist():
        parsed.append(_parse_one(text, zone))
    table = pa.array(parsed, UPDATED_AT_TYPE)
    return pc.take(table, pc.index_in(arr, value_set=distinct))


def _parse_one(text: str | None, zone: ZoneInfo) -> datetime | None:
    if text is None or not text.strip():
        return None
    value = text.strip().replace("/", "-")
    moment = _iso(value)
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


#: besides ISO-8601: what legacy systems write (unpadded months and days, e.g. 2026/1/2)
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d")


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None

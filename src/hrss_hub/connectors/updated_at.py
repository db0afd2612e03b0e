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


def _parse_text(arr: pa.Array) -> pa.Array:
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

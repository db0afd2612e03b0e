"""Incremental reads for every connector kind: an inclusive cursor plus boundary keys.

A stream with a ``cursor`` is read from a *watermark*: the highest cursor value already
delivered, and the keys of the rows delivered at exactly that value. The next read asks the
source for ``cursor >= watermark`` (inclusive, so a row written later at that same instant
is not lost) and drops the rows at exactly the watermark whose key is a boundary key (they
were delivered). Rows newer than the watermark are always new; a row updated later (new
cursor value, same key) is read again, as it should be. The state kept by the engine::

    {"cursor": <JSON form of the highest cursor value delivered>,
     "boundary_keys": ["<key>", ...]}      # keys.encode of the rows at exactly that value

Keys are encoded by :mod:`hrss_hub.keys`, the hub's one key encoding (states written by
the first version stored each key as a list of text parts; they are read and converted).

Everything on the hot path is Arrow compute over whole batches: comparing the cursor
column with the watermark, probing boundary keys (only rows *at* the watermark are
encoded and probed) and advancing the watermark (max, then the keys at the max).

The SQL connector and the REST connector both use this module; so can a connector kind
from a plugin (see the contract suite's entry-point test).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub import keys

#: JSON-able form of a cursor value (as stored in state)
JsonValue = str | int | float | bool | None


def to_json_value(value: Any) -> JsonValue:
    """A cursor value as stored in state (JSON-able, lossless for the types we read)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def from_json_value(value: Any, arrow: pa.DataType) -> Any:
    """Inverse of :func:`to_json_value` given the cursor column's Arrow type."""
    if value is None:
        return None
    if pa.types.is_timestamp(arrow):
        parsed = dt.datetime.fromisoformat(str(value))
        if arrow.tz is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed
    if pa.types.is_date(arrow):
        return dt.date.fromisoformat(str(value))
    if pa.types.is_decimal(arrow):
        return Decimal(str(value))
    if pa.types.is_integer(arrow):
        return int(value)
    if pa.types.is_floating(arrow):
        return float(value)
    if pa.types.is_binary(arrow):
        return bytes.fromhex(str(value))
    return value


def _column(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array:
    column = batch.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _boundary_key(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):  # first-version state: the key's parts as text
        return keys.encode([None if p is None else str(p) for p in raw])
    raise ValueError(f"a boundary key must be a string, got {type(raw).__name__}")


@dataclass(frozen=True)
class Watermark:
    """The inclusive lower bound of the next read (``cursor`` is ``None`` before the first)."""

    cursor: JsonValue = None
    keys: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None, *, cursor_key: str = "cursor",
                   keys_key: str = "boundary_keys") -> Watermark:
        """The watermark stored in ``state`` (raises ``ValueError`` for a malformed one)."""
        state = state or {}
        cursor = state.get(cursor_key)
        if cursor is None:
            return cls()
        raw = state.get(keys_key) or []
        if not isinstance(raw, list):
            raise ValueError(f"{keys_key} must be a list")
        if not isinstance(cursor, str | int | float | bool):
            raise ValueError(f"{cursor_key} must be a JSON scalar")
        return cls(cursor, frozenset(_boundary_key(k) for k in raw))

    def to_state(self) -> dict[str, Any]:
        """The JSON form kept in connector state (``{}`` before anything was delivered)."""
        if self.cursor is None:
            return {}
        return {"cursor": self.cursor, "boundary_keys": sorted(self.keys)}


@dataclass(frozen=True)
class NewRows:
    """Which rows of a batch are new relative to a watermark."""

    #: True where the row was not delivered yet
    mask: pa.Array
    #: rows older than the watermark (or without a cursor value) that the source sent anyway
    older: int
    #: rows at exactly the watermark that were delivered before (the boundary)
    repeated: int

    @property
    def all_new(self) -> bool:
        """Whether nothing is dropped."""
        return self.older == 0 and self.repeated == 0


class Incremental:
    """The incremental rules of one stream: cursor column, key columns, cursor codec.

    ``parse`` turns the JSON form of a cursor into a value Arrow accepts for
    ``cursor_type`` (default :func:`from_json_value`); a REST stream passes its field
    converter, because it keeps the server's own spelling of the cursor in state.
    """

    def __init__(self, cursor: str, key_columns: Sequence[str], cursor_type: pa.DataType,
                 parse: Callable[[Any], Any] | None = None) -> None:
        if not key_columns:
            raise ValueError("an incremental stream needs key columns for its boundary")
        self.cursor = cursor
        self.key_columns = list(key_columns)
        self.cursor_type = cursor_type
        self._parse = parse or (lambda value: from_json_value(value, cursor_type))

    def value(self, mark: Watermark) -> Any:
        """The watermark's cursor as a Python value of the cursor column (None if unset)."""
        return None if mark.cursor is None else self._parse(mark.cursor)

    def _scalar(self, mark: Watermark) -> pa.Scalar:
        return pa.scalar(self.value(mark), type=self.cursor_type)

    def keys_of(self, batch: pa.RecordBatch | pa.Table) -> pa.Array:
        """The encoded boundary key of every row of ``batch``."""
        return keys.encode_table(batch, self.key_columns)

    def new_rows(self, batch: pa.RecordBatch | pa.Table, since: Watermark) -> NewRows:
        """Rows of ``batch`` not delivered before ``since`` (all of them without a watermark)."""
        n = batch.num_rows
        if since.cursor is None or n == 0:
            return NewRows(pa.repeat(pa.scalar(True), n), 0, 0)
        values = _column(batch, self.cursor)
        bound = self._scalar(since)
        newer = pc.fill_null(pc.greater(values, bound), False)
        at = pc.fill_null(pc.equal(values, bound), False)
        at_count = pc.sum(at).as_py() or 0
        new_count = pc.sum(newer).as_py() or 0
        repeated = 0
        keep = newer
        if at_count:
            if since.keys:
                rows = pc.indices_nonzero(at)
                seen = pc.is_in(self.keys_of(batch.take(rows)),
                                value_set=pa.array(sorted(since.keys), pa.string()))
                fresh = pc.invert(seen)
                repeated = pc.sum(seen).as_py() or 0
                # put the verdict of the rows at the bound back at their positions
                at_fresh = pc.replace_with_mask(at, at, fresh)
                keep = pc.or_(newer, at_fresh)
            else:
                keep = pc.or_(newer, at)
        older = n - new_count - at_count
        return NewRows(keep, older, repeated)

    def advance(self, mark: Watermark, batch: pa.RecordBatch | pa.Table,
                cursor_json: Callable[[int], JsonValue] | None = None) -> Watermark:
        """The watermark after delivering ``batch`` (rows newer than or at ``mark``).

        ``cursor_json(i)`` gives the JSON form of the cursor of row ``i`` (default: from
        the Arrow value); it is asked only for one row holding the batch's maximum.
        """
        if batch.num_rows == 0:
            return mark
        values = _column(batch, self.cursor)
        top = pc.max(values)
        if not top.is_valid:  # only NULL cursors (an initial load): nothing to record
            return mark
        if mark.cursor is not None:
            bound = self._scalar(mark)
            if pc.less(top, bound).as_py():
                return mark
            same = pc.equal(top, bound).as_py()
        else:
            same = False
        at_top = pc.fill_null(pc.equal(values, top), False)
        top_keys = self.keys_of(batch.filter(at_top)).to_pylist()
        if same:
            return Watermark(mark.cursor, mark.keys | frozenset(top_keys))
        if cursor_json is None:
            json_value = to_json_value(top.as_py())
        else:
            json_value = cursor_json(pc.index(values, top).as_py())
        return Watermark(json_value, frozenset(top_keys))

"""Vectorized helpers shared by the built-in rules' predicates (Arrow in, Arrow out).

They reuse the standard's validators and parsers (``standard.identifiers`` / ``normalize``),
so "valid" means one thing in the hub.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.standard import identifiers as ids
from hrss_hub.standard import normalize as norm

INTEGER = r"^\s*[-+]?\d+\s*$"
NUMBER = r"^\s*[-+]?\d+(\.\d+)?\s*$"
#: citizen-ID kinds whose digits carry a birth date and a gender (not permits)
COMPARABLE_ID_KINDS = ("citizen", "legacy15")


def single(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array: a single chunk as it is (``combine_chunks`` would copy it), more combined."""
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One string array (chunks combined, other types cast)."""
    arr = single(arr)
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr


def falses(n: int) -> pa.Array:
    """A bool array of ``n`` False."""
    return pa.array(np.zeros(n, dtype=bool))


def no_nulls(mask: pa.Array) -> pa.Array:
    """Null (unknown) counts as not failing."""
    return pc.fill_null(mask, False)


def iso_dates(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``(date32 values, ok)`` for canonical ``YYYY-MM-DD`` dates that exist (years 1–9999,
    as the mapping's date parser accepts them).

    Read straight from the UTF-8 bytes: a canonical date is exactly ten ASCII bytes, so one
    numpy gather checks the shape and yields year, month and day for every row at once.
    """
    n = len(arr)
    data, offsets = norm.string_layout(arr)
    starts = offsets[:-1]
    candidate = (offsets[1:] - starts) == 10
    if arr.null_count:
        candidate &= np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(candidate)
    b = data[starts[rows, None] + np.arange(10)].astype(np.int64) - 48  # '0' -> 0
    digits = b[:, [0, 1, 2, 3, 5, 6, 8, 9]]
    shaped = (b[:, 4] == -3) & (b[:, 7] == -3) & ((digits >= 0) & (digits <= 9)).all(axis=1)
    year = b[:, 0] * 1000 + b[:, 1] * 100 + b[:, 2] * 10 + b[:, 3]
    sub_days, sub_ok = norm.ymd_to_days(year, b[:, 5] * 10 + b[:, 6], b[:, 8] * 10 + b[:, 9])
    days = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    days[rows] = sub_days
    ok[rows] = sub_ok & shaped
    return norm.days_to_date32(days, ok), pa.array(ok)


#: per thread: the last citizen-ID column validated and its result (see citizen_ids)
_LAST_IDS = threading.local()


def _identity(arr: pa.Array) -> tuple[int, ...]:
    # the same values in the same buffers: a batch's column, however often it is re-wrapped
    return (arr.offset, len(arr), *(b.address if b is not None else 0 for b in arr.buffers()))


def citizen_ids(arr: pa.Array | pa.ChunkedArray) -> tuple[pa.StructArray, pa.Array]:
    """``(validation struct, comparable)``: comparable where the ID is a valid citizen ID
    (18-digit or upgraded 15-digit) whose digits carry birth date and gender.

    Several cross-field rules (gender, birth date) compare against the same ID column of a
    batch: the last column's result is kept per thread (with a reference to the column,
    so its buffers cannot be reused meanwhile) and the IDs are validated once per batch.
    """
    arr = single(arr)
    ident = _identity(arr)
    last = getattr(_LAST_IDS, "value", None)
    if last is not None and last[0] == ident:
        return last[2], last[3]
    info = ids.validate_citizen_ids(arr)
    comparable = no_nulls(pc.and_(info.field("valid"),
                                  pc.is_in(info.field("kind"),
                                           pa.array(COMPARABLE_ID_KINDS))))
    _LAST_IDS.value = (ident, arr, info, comparable)
    return info, comparable


def joined(*parts: pa.Array, sep: str) -> pa.Array:
    """Element-wise join of text columns (nulls as empty text)."""
    return pc.binary_join_element_wise(*(pc.fill_null(text(p), "") for p in parts), sep)


def rejected_by(validator: Callable[[pa.Array], pa.StructArray], col: pa.Array) -> pa.Array:
    """True where ``validator`` (a vectorized identifier check) says not valid."""
    return no_nulls(pc.invert(validator(col).field("valid")))

"""Vectorized helpers shared by the built-in rules' predicates (Arrow in, Arrow out).

They reuse the standard's validators and parsers (``standard.identifiers`` / ``normalize``),
so "valid" means one thing in the hub.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.standard import identifiers as ids
from hrss_hub.standard import normalize as norm

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
INTEGER = r"^\s*[-+]?\d+\s*$"
NUMBER = r"^\s*[-+]?\d+(\.\d+)?\s*$"
#: citizen-ID kinds whose digits carry a birth date and a gender (not permits)
COMPARABLE_ID_KINDS = ("citizen", "legacy15")


def text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One string array (chunks combined, other types cast)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
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
    """``(date32 values, ok)`` for canonical ``YYYY-MM-DD`` dates that exist."""
    res = norm.parse_dates(arr, ["%Y-%m-%d"])
    shaped = no_nulls(pc.match_substring_regex(arr, ISO_DATE))
    return res.values, no_nulls(pc.and_(shaped, pc.is_valid(res.values)))


def citizen_ids(arr: pa.Array) -> tuple[pa.StructArray, pa.Array]:
    """``(validation struct, comparable)``: comparable where the ID is a valid citizen ID
    (18-digit or upgraded 15-digit) whose digits carry birth date and gender."""
    info = ids.validate_citizen_ids(arr)
    comparable = no_nulls(pc.and_(info.field("valid"),
                                  pc.is_in(info.field("kind"),
                                           pa.array(COMPARABLE_ID_KINDS))))
    return info, comparable


def joined(*parts: pa.Array, sep: str) -> pa.Array:
    """Element-wise join of text columns (nulls as empty text)."""
    return pc.binary_join_element_wise(*(pc.fill_null(text(p), "") for p in parts), sep)


def rejected_by(validator: Callable[[pa.Array], pa.StructArray], col: pa.Array) -> pa.Array:
    """True where ``validator`` (a vectorized identifier check) says not valid."""
    return no_nulls(pc.invert(validator(col).field("valid")))

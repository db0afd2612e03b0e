"""Adapters from mapping normalizer names to the standard package's vectorized functions.

Each adapter takes a string array and returns ``(values, invalid, extra)``: typed values
(null where invalid), a boolean mask of non-empty inputs that failed, and optional derived
data (the citizen-ID struct with birth date and gender, for cross-field rules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.standard import identifiers as ids
from hrss_hub.standard import normalize as norm


@dataclass
class Normalized:
    """Output of one normalizer over one batch column."""

    values: pa.Array
    invalid: pa.Array  # bool, True where a non-empty input failed
    rule: str | None  # quarantine rule fired by ``invalid``
    derived: pa.StructArray | None = None


def _as_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks()
    return arr


def _ident(func: Callable[..., Any], rule: str) -> Callable[[pa.Array, Any], Normalized]:
    def run(arr: pa.Array, spec: Any) -> Normalized:
        res = _as_array(func(arr))
        if isinstance(res, pa.Table):
            res = pa.StructArray.from_arrays(
                [_as_array(c) for c in res.columns], names=res.column_names)
        valid = res.field("valid")
        normalized = res.field("normalized")
        invalid = pc.and_(pc.is_valid(arr), pc.invert(valid))
        invalid = pc.fill_null(invalid, False)
        values = pc.if_else(invalid, pa.scalar(None, pa.string()), normalized)
        return Normalized(values, invalid, rule, res)
    return run


def _parsed(rule: str, fn: Callable[[pa.Array, Any], Any]) -> Callable[[pa.Array, Any], Normalized]:
    def run(arr: pa.Array, spec: Any) -> Normalized:
        res = fn(arr, spec)
        invalid = pc.fill_null(_as_array(res.invalid), False)
        return Normalized(_as_array(res.values), invalid, rule)
    return run


def _plain(fn: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array, Any], Normalized]:
    def run(arr: pa.Array, spec: Any) -> Normalized:
        values = _as_array(fn(arr))
        return Normalized(values, pa.repeat(pa.scalar(False), len(arr)), None)
    return run


#: in ``formats:``, the built-in date forms (so a list *adds* formats instead of replacing)
BUILTIN_DATES = "builtin"


def _date(arr: pa.Array, spec: Any) -> Any:
    formats = list(spec.formats) if spec.formats else None
    if not formats or BUILTIN_DATES not in formats:
        return norm.parse_dates(arr, formats)  # no formats: built-in forms; else only these
    builtin = norm.parse_dates(arr, None)
    own = [f for f in formats if f != BUILTIN_DATES]
    if not own:
        return builtin
    first = norm.parse_dates(arr, own)  # the listed formats first, then the built-in forms
    values = pc.if_else(pc.is_valid(first.values), first.values, builtin.values)
    invalid = pc.and_(_as_array(first.invalid), _as_array(builtin.invalid))
    return norm.ParseResult(values, invalid)


def _excel_date(arr: pa.Array, spec: Any) -> Any:
    return norm.excel_serial_to_date(arr, date1904=spec.date1904)


def _period(arr: pa.Array, spec: Any) -> Any:
    return norm.parse_period(arr)


def _amount(arr: pa.Array, spec: Any) -> Any:
    return norm.parse_amount(arr, unit=spec.unit)


def _trim(arr: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(arr)


ADAPTERS: dict[str, Callable[[pa.Array, Any], Normalized]] = {
    "citizen_id": _ident(ids.validate_citizen_ids, "citizen_id_invalid"),
    "uscc": _ident(ids.validate_usccs, "uscc_invalid"),
    "org_code": _ident(ids.validate_org_codes, "org_code_invalid"),
    "date": _parsed("date_invalid", _date),
    "excel_date": _parsed("date_invalid", _excel_date),
    "period": _parsed("period_invalid", _period),
    "amount": _parsed("value_invalid", _amount),
    "fullwidth": _plain(norm.fullwidth_to_halfwidth),
    "name": _plain(norm.normalize_name),
    "trim": _plain(_trim),
}

#: the normalizer applied when a field's type or identifier asks for one and the mapping
#: names none (a ``date`` field mapped from text is parsed; an ``identifier`` is validated)
IMPLICIT_BY_IDENTIFIER = {"citizen_id": "citizen_id", "uscc": "uscc", "org_code": "org_code"}
IMPLICIT_BY_TYPE = {"date": "date", "period": "period", "decimal": "amount"}

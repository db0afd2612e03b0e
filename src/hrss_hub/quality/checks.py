"""Every expectation type of the suites, evaluated with Arrow on a validation frame.

One function per expectation type returns a boolean mask, True where the row is
*unexpected*, with Great Expectations' semantics: a column-map expectation ignores null
values (only ``expect_column_values_to_not_be_null`` flags them), a multi-column one ignores
rows with a null input (``ignore_row_if: any_value_is_missing``), and a ``row_condition`` on
``__candidate__`` restricts the rows considered. The GX custom expectations of
:mod:`.gx_expectations` call these same functions on pandas columns, and both reuse the
standard's vectorized validators and parsers (``standard.identifiers`` / ``normalize`` /
code lists / contribution bounds), so "valid" means one thing in the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.suites import CANDIDATE_COLUMN, ExpectationSpec
from hrss_hub.standard import identifiers as ids
from hrss_hub.standard import normalize as norm
from hrss_hub.standard.model import Standard


@dataclass
class CheckContext:
    """What checks need beyond the frame: the standard and published reference keys."""

    standard: Standard
    #: (entity, field) -> the values published so far (None: reference not available)
    references: dict[tuple[str, str], pa.Array | None] = field(default_factory=dict)


def _text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr


def _present_and(arr: pa.Array, bad: pa.Array) -> pa.Array:
    return pc.fill_null(pc.and_(pc.is_valid(arr), bad), False)


def _id_info(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    info = ids.validate_citizen_ids(arr)
    comparable = pc.fill_null(pc.and_(
        info.field("valid"), pc.is_in(info.field("kind"), pa.array(["citizen", "legacy15"]))),
        False)
    return info, comparable


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_INTEGER = r"^\s*[-+]?\d+\s*$"
_NUMBER = r"^\s*[-+]?\d+(\.\d+)?\s*$"


def _iso_date(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(date32 values, ok) for canonical ISO dates."""
    res = norm.parse_dates(arr, ["%Y-%m-%d"])
    shaped = pc.fill_null(pc.match_substring_regex(arr, _ISO_DATE), False)
    ok = pc.and_(shaped, pc.is_valid(res.values))
    return res.values, pc.fill_null(ok, False)


# -- column checks: (values, kwargs, ctx) -> unexpected --------------------------------

ColumnCheck = Callable[[pa.Array, Mapping[str, Any], CheckContext], pa.Array]


def not_null(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Missing values."""
    return pc.is_null(a)


def match_regex(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values not matching ``regex`` (search semantics, as GX's pandas engine)."""
    return _present_and(a, pc.invert(pc.match_substring_regex(a, str(kw["regex"]))))


def value_lengths(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values shorter than ``min_value`` or longer than ``max_value`` characters."""
    length = pc.utf8_length(a)
    bad = pa.array(np.zeros(len(a), dtype=bool))
    if kw.get("max_value") is not None:
        bad = pc.or_(bad, pc.greater(length, int(kw["max_value"])))
    if kw.get("min_value") is not None:
        bad = pc.or_(bad, pc.less(length, int(kw["min_value"])))
    return _present_and(a, bad)


def citizen_id(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """GB 11643 invalid numbers."""
    return _present_and(a, pc.invert(ids.validate_citizen_ids(a).field("valid")))


def uscc(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """GB 32100 invalid codes."""
    return _present_and(a, pc.invert(ids.validate_usccs(a).field("valid")))


def org_code(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """GB 11714 invalid codes."""
    return _present_and(a, pc.invert(ids.validate_org_codes(a).field("valid")))


def iso_date(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values that are not a real date written YYYY-MM-DD."""
    return _present_and(a, pc.invert(_iso_date(a)[1]))


def period(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values that are not a YYYYMM month from 1900 up to the current month."""
    shaped = pc.fill_null(pc.match_substring_regex(a, r"^\d{6}$"), False)
    parsed = norm.parse_period(a)
    return _present_and(a, pc.or_(pc.invert(shaped), parsed.invalid))


def canonical_number(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values that are not a number of ``number_type`` (decimal: an amount in yuan)."""
    if kw.get("number_type") == "integer":
        return _present_and(a, pc.invert(pc.match_substring_regex(a, _INTEGER)))
    return _present_and(a, norm.parse_amount(a).invalid)


def canonical_boolean(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values other than ``true`` / ``false``."""
    return _present_and(a, pc.invert(pc.is_in(a, pa.array(["true", "false"]))))


def in_code_list(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values that are not a code of the standard's code list."""
    cl = ctx.standard.code_list(str(kw["code_list"]))
    return _present_and(a, pc.invert(cl.is_valid_array(a)))


def number_between(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Numbers below ``min_value`` or above ``max_value`` (non-numbers are not judged)."""
    numeric = pc.fill_null(pc.match_substring_regex(a, _NUMBER), False)
    value = pc.cast(pc.if_else(numeric, pc.utf8_trim_whitespace(a), None), pa.float64())
    bad = pa.array(np.zeros(len(a), dtype=bool))
    if kw.get("min_value") is not None:
        bad = pc.or_(bad, pc.fill_null(pc.less(value, float(kw["min_value"])), False))
    if kw.get("max_value") is not None:
        bad = pc.or_(bad, pc.fill_null(pc.greater(value, float(kw["max_value"])), False))
    return _present_and(a, bad)


def exists_in_entity(a: pa.Array, kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Values not present in the published data of another entity."""
    ref = ctx.references.get((str(kw["entity"]), str(kw["entity_field"])))
    if ref is None:  # no published reference data yet: nothing can be judged
        return pa.array(np.zeros(len(a), dtype=bool))
    return _present_and(a, pc.invert(pc.is_in(a, value_set=ref)))


# -- multi-column checks: (columns in column_list order, kwargs, ctx) -> unexpected ---------

MultiCheck = Callable[[list[pa.Array], Mapping[str, Any], CheckContext], pa.Array]


def first_kept(cols: list[pa.Array], kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Every occurrence of a key after its first (rows already restricted by the caller)."""
    n = len(cols[0])
    names = [f"k{i}" for i in range(len(cols))]
    table = pa.table({**dict(zip(names, cols, strict=True)),
                      "__i": pa.array(np.arange(n, dtype=np.int64))})
    firsts = table.group_by(names, use_threads=False).aggregate([("__i", "min")])
    return pc.invert(pc.is_in(table["__i"], value_set=firsts["__i_min"]).combine_chunks())


def gender_id(cols: list[pa.Array], kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Gender ('1'/'2') contradicting the citizen ID's sequence-digit parity."""
    id_col, gender = cols
    info, comparable = _id_info(id_col)
    comparable = pc.and_(comparable, pc.fill_null(pc.is_in(gender, pa.array(["1", "2"])), False))
    return pc.fill_null(pc.and_(comparable, pc.not_equal(gender, info.field("gender"))), False)


def birth_id(cols: list[pa.Array], kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Birth date different from the citizen ID's digits 7–14."""
    id_col, birth = cols
    info, comparable = _id_info(id_col)
    values, ok = _iso_date(birth)
    differs = pc.not_equal(values, info.field("birth_date"))
    return pc.fill_null(pc.and_(pc.and_(comparable, ok), differs), False)


def end_before_start(cols: list[pa.Array], kw: Mapping[str, Any],
                     ctx: CheckContext) -> pa.Array:
    """End dates before their start dates."""
    (start, s_ok), (end, e_ok) = _iso_date(cols[0]), _iso_date(cols[1])
    return pc.fill_null(pc.and_(pc.and_(s_ok, e_ok), pc.less(end, start)), False)


def base_bounds(cols: list[pa.Array], kw: Mapping[str, Any], ctx: CheckContext) -> pa.Array:
    """Bases outside the (division, year, insurance type) bounds; judged only when every
    input is valid (a known division, a valid period and insurance type, a number)."""
    base, division, per, itype = cols
    std = ctx.standard
    base_res = norm.parse_amount(base)
    ok = pc.and_(pc.is_valid(base_res.values),
                 pc.fill_null(std.divisions.is_known_array(division), False))
    ok = pc.and_(ok, pc.invert(period(per, kw, ctx)))
    ok = pc.and_(ok, pc.is_valid(per))
    ok = pc.and_(ok, pc.fill_null(pc.invert(
        pc.fill_null(in_code_list(itype, {"code_list": "insurance_type"}, ctx), True)), False))
    years = pc.cast(pc.utf8_slice_codeunits(pc.fill_null(per, "0000"), 0, 4), pa.int64())
    low, high = std.contribution_bounds.bounds_arrays(division, years, itype)
    value = pc.cast(base_res.values, pa.float64())
    out = pc.or_(pc.less(value, pc.cast(low, pa.float64())),
                 pc.greater(value, pc.cast(high, pa.float64())))
    return pc.fill_null(pc.and_(ok, out), False)


COLUMN_CHECKS: dict[str, ColumnCheck] = {
    "expect_column_values_to_not_be_null": not_null,
    "expect_column_values_to_match_regex": match_regex,
    "expect_column_value_lengths_to_be_between": value_lengths,
    "expect_column_values_to_be_valid_citizen_id": citizen_id,
    "expect_column_values_to_be_valid_uscc": uscc,
    "expect_column_values_to_be_valid_org_code": org_code,
    "expect_column_values_to_be_iso_date": iso_date,
    "expect_column_values_to_be_valid_period": period,
    "expect_column_values_to_be_canonical_number": canonical_number,
    "expect_column_values_to_be_canonical_boolean": canonical_boolean,
    "expect_column_values_to_be_in_code_list": in_code_list,
    "expect_column_values_to_be_number_between": number_between,
    "expect_column_values_to_exist_in_entity": exists_in_entity,
    "expect_column_values_to_be_unique_first_kept": lambda a, kw, ctx: first_kept([a], kw, ctx),
}
MULTI_CHECKS: dict[str, MultiCheck] = {
    "expect_compound_columns_to_be_unique_first_kept": first_kept,
    "expect_gender_to_match_citizen_id": gender_id,
    "expect_birth_date_to_match_citizen_id": birth_id,
    "expect_end_date_not_before_start_date": end_before_start,
    "expect_contribution_base_within_bounds": base_bounds,
}


def unexpected_mask(spec: ExpectationSpec, frame: pa.Table, ctx: CheckContext) -> pa.Array:
    """True where the frame's row is unexpected for ``spec`` (GX semantics, see module doc)."""
    n = frame.num_rows
    kw = spec.kwargs
    considered = pa.array(np.ones(n, dtype=bool))
    if kw.get("row_condition") is not None:
        # the only condition the generated suites use: ``__candidate__ == True``
        considered = pc.fill_null(_text_or_bool(frame[CANDIDATE_COLUMN]), False)
    if spec.type in MULTI_CHECKS:
        cols = [_text(frame[c]) for c in kw["column_list"]]
        complete = pa.array(np.ones(n, dtype=bool))
        for c in cols:
            complete = pc.and_(complete, pc.is_valid(c))
        considered = pc.and_(considered, complete)
        idx = pc.indices_nonzero(considered)
        sub = MULTI_CHECKS[spec.type]([pc.take(c, idx) for c in cols], kw, ctx)
    else:
        col = _text(frame[kw["column"]])
        if spec.type != "expect_column_values_to_not_be_null":
            considered = pc.and_(considered, pc.is_valid(col))
        idx = pc.indices_nonzero(considered)
        sub = COLUMN_CHECKS[spec.type](pc.take(col, idx), kw, ctx)
    mask = np.zeros(n, dtype=bool)
    mask[idx.to_numpy()] = np.asarray(pc.fill_null(sub, False).to_numpy(zero_copy_only=False),
                                      dtype=bool)
    return pa.array(mask)


def _text_or_bool(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr

"""Cross-field rules of the standard, evaluated vectorized on a mapped batch.

Each rule in an entity's ``rules:`` list names its inputs (e.g. ``{id: end_before_start,
start: start_date, end: end_date}``). A rule is evaluated only where all its inputs are
non-null (docs/mapping.md); it returns a boolean mask of failing rows and the offending
values to show stewards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.mapping.compile import Failure, MappedBatch
from hrss_hub.standard.model import Entity, Standard

RuleFn = Callable[[MappedBatch, Mapping[str, Any], Entity, Standard], Failure | None]


def _fill(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


def _id_field(entity: Entity, params: Mapping[str, Any]) -> str | None:
    if "citizen_id" in params:
        return str(params["citizen_id"])
    for f in entity.fields:
        if f.identifier == "citizen_id":
            return f.name
    return None


def _against_id(mb: MappedBatch, params: Mapping[str, Any], entity: Entity, rule: str,
                field_param: str, derived: str, only: list[str] | None = None) -> Failure | None:
    """Compare a mapped field with the value derived from a valid citizen ID.

    Permits and foreigner IDs follow other numbering rules: only citizen IDs (18-digit or
    upgraded 15-digit) are compared, and only where both sides are present.
    """
    id_field = _id_field(entity, params)
    value_field = str(params.get(field_param, field_param))
    if id_field not in mb.id_info or value_field not in mb.columns:
        return None
    info = mb.id_info[id_field]
    value = mb.columns[value_field]
    comparable = pc.and_(_fill(pc.is_in(info.field("kind"), pa.array(["citizen", "legacy15"]))),
                         pc.is_valid(mb.columns[id_field]))
    if only is not None:  # e.g. gender codes 0/9 (unknown) are not compared
        comparable = pc.and_(comparable, _fill(pc.is_in(value, pa.array(only))))
    mask = _fill(pc.and_(comparable, pc.not_equal(value, info.field(derived))))
    offending = pc.binary_join_element_wise(
        pc.fill_null(mb.columns[id_field], ""), pc.fill_null(pc.cast(value, pa.string()), ""),
        f" {value_field}=")
    return Failure(rule, value_field, mask, offending)


def gender_id_mismatch(mb: MappedBatch, params: Mapping[str, Any], entity: Entity,
                       standard: Standard) -> Failure | None:
    """Gender ('1'/'2') contradicts the parity of the ID's sequence code."""
    return _against_id(mb, params, entity, "gender_id_mismatch", "gender", "gender", ["1", "2"])


def birth_date_id_mismatch(mb: MappedBatch, params: Mapping[str, Any], entity: Entity,
                           standard: Standard) -> Failure | None:
    """Birth date differs from the ID's digits 7–14."""
    return _against_id(mb, params, entity, "birth_date_id_mismatch", "birth_date", "birth_date")


def end_before_start(mb: MappedBatch, params: Mapping[str, Any], entity: Entity,
                     standard: Standard) -> Failure | None:
    """An end date precedes its start date."""
    start_field = str(params.get("start", "start_date"))
    end_field = str(params.get("end", "end_date"))
    if start_field not in mb.columns or end_field not in mb.columns:
        return None
    start, end = mb.columns[start_field], mb.columns[end_field]
    mask = _fill(pc.less(end, start))
    offending = pc.binary_join_element_wise(
        pc.fill_null(pc.cast(start, pa.string()), ""), pc.fill_null(pc.cast(end, pa.string()), ""),
        " > ")
    return Failure("end_before_start", end_field, mask, offending)


def contribution_base_out_of_bounds(mb: MappedBatch, params: Mapping[str, Any], entity: Entity,
                                    standard: Standard) -> Failure | None:
    """The base lies outside the (division, year, insurance type) bounds."""
    base_f = str(params.get("base", "base"))
    div_f = str(params.get("division", "division"))
    period_f = str(params.get("period", "period"))
    type_f = str(params.get("insurance_type", "insurance_type"))
    if not all(f in mb.columns for f in (base_f, div_f, period_f, type_f)):
        return None
    base = mb.columns[base_f]
    years = pc.cast(pc.utf8_slice_codeunits(mb.columns[period_f], 0, 4), pa.int64())
    low, high = standard.contribution_bounds.bounds_arrays(
        mb.columns[div_f], years, mb.columns[type_f])
    base_f64 = pc.cast(base, pa.float64())
    low_f64, high_f64 = pc.cast(low, pa.float64()), pc.cast(high, pa.float64())
    mask = _fill(pc.or_(pc.less(base_f64, low_f64), pc.greater(base_f64, high_f64)))
    offending = pc.cast(base, pa.string())
    return Failure("contribution_base_out_of_bounds", base_f, mask, offending)


RULES: dict[str, RuleFn] = {
    "gender_id_mismatch": gender_id_mismatch,
    "birth_date_id_mismatch": birth_date_id_mismatch,
    "end_before_start": end_before_start,
    "contribution_base_out_of_bounds": contribution_base_out_of_bounds,
}


def evaluate_rules(mb: MappedBatch, entity: Entity, standard: Standard) -> list[Failure]:
    """Evaluate the entity's cross-field rules on a mapped batch."""
    failures: list[Failure] = []
    for rule in entity.rules:
        params = rule if isinstance(rule, Mapping) else vars(rule)
        rule_id = str(params.get("id"))
        fn = RULES.get(rule_id)
        if fn is None:
            continue  # rules without a row-level evaluator are checked by the GX suites
        failure = fn(mb, params, entity, standard)
        if failure is not None:
            failures.append(failure)
    return failures

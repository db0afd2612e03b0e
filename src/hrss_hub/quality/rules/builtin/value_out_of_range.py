"""``value_out_of_range``: a number lies outside the field's ``min:`` / ``max:``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, Rule, RuleContext, RuleParams, Scope, Verdict

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class RangeParams(RuleParams):
    """The field and its bounds, inclusive (either may be absent)."""

    column: AnyField
    min_value: float | None = None
    max_value: float | None = None


class ValueOutOfRange(Rule[RangeParams]):
    """Values that are not numbers are not judged here (``value_invalid`` says so)."""

    id = "value_out_of_range"
    label_zh = "数值超出范围"
    label_en = "value out of range"
    description = "A number lies below the field's min or above its max."
    default_severity = "warning"
    declared_by = "field: `min:` / `max:`"
    order = 60
    params_model = RangeParams
    expectation = "expect_column_values_to_be_number_between"

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> RangeParams | None:
        """Fields with a ``min`` or ``max``."""
        if f.min is None and f.max is None:
            return None
        return RangeParams(column=f.name, min_value=None if f.min is None else float(f.min),
                           max_value=None if f.max is None else float(f.max))

    def check_params(self, params: RangeParams, scope: Scope) -> list[tuple[str, str]]:
        """At least one bound, and min not above max."""
        lo, hi = params.min_value, params.max_value
        if lo is None and hi is None:
            return [("max_value", "give min_value, max_value or both")]
        if lo is not None and hi is not None and lo > hi:
            return [("min_value", f"min_value {lo:g} is greater than max_value {hi:g}")]
        return []

    def predicate(self, columns: Sequence[pa.Array], params: RangeParams,
                  ctx: RuleContext) -> Verdict:
        """Numbers below ``min_value`` or above ``max_value``."""
        (col,) = columns
        numeric = kernels.no_nulls(pc.match_substring_regex(col, kernels.NUMBER))
        value = pc.cast(pc.if_else(numeric, pc.utf8_trim_whitespace(col), None), pa.float64())
        bad = kernels.falses(len(col))
        if params.min_value is not None:
            bad = pc.or_(bad, kernels.no_nulls(pc.less(value, params.min_value)))
        if params.max_value is not None:
            bad = pc.or_(bad, kernels.no_nulls(pc.greater(value, params.max_value)))
        return Verdict(bad, col)

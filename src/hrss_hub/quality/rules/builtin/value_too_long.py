"""``value_too_long``: a text value is longer than the field's ``max_length:``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, Rule, RuleContext, RuleParams, Scope, Verdict

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class LengthParams(RuleParams):
    """The field and the allowed length in characters (either bound may be absent)."""

    column: AnyField
    min_value: int | None = None
    max_value: int | None = None


class ValueTooLong(Rule[LengthParams]):
    """Lengths count characters (code points), as Python and Great Expectations do."""

    id = "value_too_long"
    label_zh = "长度超限"
    label_en = "value length out of bounds"
    description = "A text value is longer (or shorter) than the field allows."
    default_severity = "warning"
    declared_by = "field: `max_length: N`"
    order = 50
    params_model = LengthParams
    expectation = "expect_column_value_lengths_to_be_between"
    gx_builtin = True

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> LengthParams | None:
        """Fields with a ``max_length``."""
        return LengthParams(column=f.name, max_value=f.max_length) if f.max_length else None

    def check_params(self, params: LengthParams, scope: Scope) -> list[tuple[str, str]]:
        """At least one bound."""
        if params.min_value is None and params.max_value is None:
            return [("max_value", "give min_value, max_value or both")]
        return []

    def predicate(self, columns: Sequence[pa.Array], params: LengthParams,
                  ctx: RuleContext) -> Verdict:
        """Values shorter than ``min_value`` or longer than ``max_value`` characters."""
        (col,) = columns
        length = pc.utf8_length(col)
        bad = kernels.falses(len(col))
        if params.max_value is not None:
            bad = pc.or_(bad, pc.greater(length, params.max_value))
        if params.min_value is not None:
            bad = pc.or_(bad, pc.less(length, params.min_value))
        return Verdict(kernels.no_nulls(bad), col)

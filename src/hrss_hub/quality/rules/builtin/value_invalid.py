"""``value_invalid``: a number or boolean field's value is not of its type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import (
    AnyField,
    Rule,
    RuleContext,
    RuleParams,
    Verdict,
    type_family,
)
from hrss_hub.standard import normalize as norm

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard

ValueType = Literal["decimal", "integer", "boolean"]


class ValueParams(RuleParams):
    """The field and the type its values must have."""

    column: AnyField
    value_type: ValueType


class ValueInvalid(Rule[ValueParams]):
    """Canonical text of each type: amounts in yuan (``6785.00``), integers, ``true``/``false``.
    The mapping converts ``1``/``是``/``yes`` … to booleans and amounts with units; what it could
    not convert stays as the source text on the frame."""

    id = "value_invalid"
    label_zh = "数值无效"
    label_en = "invalid value"
    description = "A number or boolean field's value is not a number / true-false value."
    stage = "mapping"
    declared_by = "field: `type: decimal(p,s)` / `integer` / `boolean`"
    order = 25
    params_model = ValueParams
    expectation = "expect_column_values_to_be_canonical_value"
    declarable = False

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> ValueParams | None:
        """Every decimal, integer and boolean field without an identifier."""
        family = type_family(f.type)
        if f.identifier or family not in ("decimal", "integer", "boolean"):
            return None
        return ValueParams(column=f.name, value_type=family)  # type: ignore[arg-type]

    def predicate(self, columns: Sequence[pa.Array], params: ValueParams,
                  ctx: RuleContext) -> Verdict:
        """Values that are not canonical text of ``value_type``."""
        (col,) = columns
        if params.value_type == "integer":
            bad = pc.invert(kernels.no_nulls(pc.match_substring_regex(col, kernels.INTEGER)))
        elif params.value_type == "boolean":
            bad = pc.invert(kernels.no_nulls(pc.is_in(col, pa.array(["true", "false"]))))
        else:
            bad = kernels.no_nulls(norm.parse_amount(col).invalid)
        return Verdict(bad, col)

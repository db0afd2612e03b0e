"""``value_not_allowed``: a value is not one of an enumerated set (an entity rule)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field as Param

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, Rule, RuleContext, RuleParams, Verdict


class EnumParams(RuleParams):
    """The field and the values it may hold (exact text, as on the validation frame)."""

    column: AnyField
    value_set: tuple[str, ...] = Param(min_length=1)


class ValueNotAllowed(Rule[EnumParams]):
    """For a short fixed list that is not worth a code list (a code list also gives labels,
    aliases and a version: prefer it for codes)."""

    id = "value_not_allowed"
    label_zh = "取值不在允许范围"
    label_en = "value not allowed"
    description = "A value is not one of the values the rule lists."
    declared_by = "entity `rules:` {id: value_not_allowed, column: F, value_set: [...]}"
    order = 70
    params_model = EnumParams
    expectation = "expect_column_values_to_be_in_set"
    gx_builtin = True

    def predicate(self, columns: Sequence[pa.Array], params: EnumParams,
                  ctx: RuleContext) -> Verdict:
        """Values outside ``value_set``."""
        (col,) = columns
        allowed = kernels.no_nulls(pc.is_in(col, pa.array(params.value_set, pa.string())))
        return Verdict(pc.invert(allowed), col)

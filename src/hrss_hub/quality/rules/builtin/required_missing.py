"""``required_missing``: a required field is empty."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules.base import ColumnParams, Rule, RuleContext, Verdict

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class RequiredMissing(Rule[ColumnParams]):
    """Null, or blank after trimming (the frame holds blank text as null)."""

    id = "required_missing"
    label_zh = "必填项缺失"
    label_en = "required value missing"
    description = "A required field is empty (null, or blank after trimming)."
    stage = "mapping"
    declared_by = "field: `required: true`"
    order = 10
    params_model = ColumnParams
    expectation = "expect_column_values_to_not_be_null"
    gx_builtin = True
    judges_nulls = True
    declarable = False

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> ColumnParams | None:
        """Every ``required: true`` field."""
        return ColumnParams(column=f.name) if f.required else None

    def predicate(self, columns: Sequence[pa.Array], params: ColumnParams,
                  ctx: RuleContext) -> Verdict:
        """Missing values; nothing to show but the absence."""
        (col,) = columns
        return Verdict(pc.is_null(col), pa.nulls(len(col), pa.string()))

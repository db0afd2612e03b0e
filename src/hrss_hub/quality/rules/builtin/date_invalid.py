"""``date_invalid``: a date field's value is not a real date."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import ColumnParams, Rule, RuleContext, Verdict, type_family

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class DateInvalid(Rule[ColumnParams]):
    """The mapping parses dates in many layouts (``normalize: date`` / ``excel_date``); on the
    frame a parsed date is ISO text, so anything else is the source text it could not parse."""

    id = "date_invalid"
    label_zh = "日期无效"
    label_en = "invalid date"
    description = "A date could not be parsed or does not exist (e.g. 2023-02-30)."
    stage = "mapping"
    declared_by = "field: `type: date`"
    order = 23
    params_model = ColumnParams
    expectation = "expect_column_values_to_be_iso_date"
    declarable = False

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> ColumnParams | None:
        """Every ``date`` field."""
        return ColumnParams(column=f.name) if type_family(f.type) == "date" else None

    def predicate(self, columns: Sequence[pa.Array], params: ColumnParams,
                  ctx: RuleContext) -> Verdict:
        """Values that are not a real date written ``YYYY-MM-DD``."""
        (col,) = columns
        return Verdict(pc.invert(kernels.iso_dates(col)[1]), col)

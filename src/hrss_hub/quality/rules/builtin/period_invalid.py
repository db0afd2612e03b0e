"""``period_invalid``: a ``YYYYMM`` period is malformed or in the future."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import ColumnParams, Rule, RuleContext, Verdict, type_family
from hrss_hub.standard import normalize as norm

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class PeriodInvalid(Rule[ColumnParams]):
    """A contribution or benefit month: six digits, 1900-01 up to the current month."""

    id = "period_invalid"
    label_zh = "所属期无效"
    label_en = "invalid period"
    description = "A YYYYMM period is malformed or in the future."
    stage = "mapping"
    declared_by = "field: `type: period`"
    order = 24
    params_model = ColumnParams
    expectation = "expect_column_values_to_be_valid_period"
    declarable = False

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> ColumnParams | None:
        """Every ``period`` field."""
        return ColumnParams(column=f.name) if type_family(f.type) == "period" else None

    def predicate(self, columns: Sequence[pa.Array], params: ColumnParams,
                  ctx: RuleContext) -> Verdict:
        """Values that are not a ``YYYYMM`` month from 1900 up to the current month."""
        (col,) = columns
        return Verdict(invalid_periods(col), col)


def invalid_periods(col: pa.Array) -> pa.Array:
    """True where a (non-null) value is not a valid ``YYYYMM`` period."""
    shaped = kernels.no_nulls(pc.match_substring_regex(col, r"^\d{6}$"))
    return kernels.no_nulls(pc.or_(pc.invert(shaped), norm.parse_period(col).invalid))

"""``contribution_base_out_of_bounds``: a contribution base outside its official bounds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, FieldRef, Rule, RuleContext, RuleParams, Verdict
from hrss_hub.quality.rules.builtin.period_invalid import invalid_periods
from hrss_hub.standard import normalize as norm


class BoundsParams(RuleParams):
    """The base, and the fields that select its bounds row."""

    base: Annotated[str, FieldRef(("decimal", "integer"))] = "base"
    division: AnyField = "division"
    period: Annotated[str, FieldRef(("period",))] = "period"
    insurance_type: AnyField = "insurance_type"


class ContributionBaseOutOfBounds(Rule[BoundsParams]):
    """Bounds come from the standard's ``bounds/contribution_base.yaml`` by (division prefix,
    year of the period, insurance type). Judged only when every input is valid: a known
    division, a valid period and insurance type, and a number."""

    id = "contribution_base_out_of_bounds"
    label_zh = "缴费基数超出上下限"
    label_en = "contribution base out of bounds"
    description = "The base lies outside the (division, year, insurance type) bounds."
    params_model = BoundsParams
    expectation = "expect_contribution_base_within_bounds"
    reported = "base"

    def predicate(self, columns: Sequence[pa.Array], params: BoundsParams,
                  ctx: RuleContext) -> Verdict:
        """Bases below the row's minimum or above its maximum."""
        base, division, per, itype = columns
        std = ctx.standard
        amount = norm.parse_amount(base)
        ok = pc.and_(pc.is_valid(amount.values),
                     kernels.no_nulls(std.divisions.is_known_array(division)))
        ok = pc.and_(ok, pc.invert(invalid_periods(per)))
        codes = std.code_list("insurance_type").is_valid_array(itype)
        ok = pc.and_(ok, kernels.no_nulls(codes))
        years = pc.cast(pc.utf8_slice_codeunits(per, 0, 4), pa.int64())
        low, high = std.contribution_bounds.bounds_arrays(division, years, itype)
        value = pc.cast(amount.values, pa.float64())
        out = pc.or_(pc.less(value, pc.cast(low, pa.float64())),
                     pc.greater(value, pc.cast(high, pa.float64())))
        return Verdict(kernels.no_nulls(pc.and_(ok, out)), base)

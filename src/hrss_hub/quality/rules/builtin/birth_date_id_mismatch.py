"""``birth_date_id_mismatch``: birth date contradicts the citizen ID's digits 7–14."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, FieldRef, Rule, RuleContext, RuleParams, Verdict


class BirthDateIdParams(RuleParams):
    """The citizen ID field and the birth date field."""

    citizen_id: AnyField = "citizen_id"
    birth_date: Annotated[str, FieldRef(("date",))] = "birth_date"


class BirthDateIdMismatch(Rule[BirthDateIdParams]):
    """Compared for citizen IDs only (18-digit or upgraded 15-digit), where the birth date is
    a real date."""

    id = "birth_date_id_mismatch"
    label_zh = "出生日期与身份号码不符"
    label_en = "birth date contradicts citizen ID"
    description = "Birth date differs from digits 7–14 of the citizen ID."
    params_model = BirthDateIdParams
    expectation = "expect_birth_date_to_match_citizen_id"
    reported = "birth_date"

    def predicate(self, columns: Sequence[pa.Array], params: BirthDateIdParams,
                  ctx: RuleContext) -> Verdict:
        """Birth dates different from the date the ID encodes."""
        id_col, birth = columns
        info, comparable = kernels.citizen_ids(id_col)
        values, ok = kernels.iso_dates(birth)
        differs = pc.not_equal(values, info.field("birth_date"))
        mask = kernels.no_nulls(pc.and_(pc.and_(comparable, ok), differs))
        return Verdict(mask, kernels.joined(id_col, birth, sep=f" {params.birth_date}="))

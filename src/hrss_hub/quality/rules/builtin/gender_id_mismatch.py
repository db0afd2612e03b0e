"""``gender_id_mismatch``: gender contradicts the citizen ID's sequence-digit parity."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, Rule, RuleContext, RuleParams, Verdict


class GenderIdParams(RuleParams):
    """The citizen ID field and the gender field (codes of GB/T 2261.1)."""

    citizen_id: AnyField = "citizen_id"
    gender: AnyField = "gender"


class GenderIdMismatch(Rule[GenderIdParams]):
    """Odd sequence digit (17th) = male ``1``, even = female ``2``. Only citizen IDs carry it
    (18-digit or upgraded 15-digit, not permits), and only genders 1/2 are compared (0 and 9
    mean unknown / not stated)."""

    id = "gender_id_mismatch"
    label_zh = "性别与身份号码不符"
    label_en = "gender contradicts citizen ID"
    description = "Gender contradicts the parity of the citizen ID's sequence code."
    params_model = GenderIdParams
    expectation = "expect_gender_to_match_citizen_id"
    reported = "gender"

    def predicate(self, columns: Sequence[pa.Array], params: GenderIdParams,
                  ctx: RuleContext) -> Verdict:
        """Gender '1'/'2' different from the gender the ID encodes."""
        id_col, gender = columns
        info, comparable = kernels.citizen_ids(id_col)
        comparable = pc.and_(comparable,
                             kernels.no_nulls(pc.is_in(gender, pa.array(["1", "2"]))))
        mask = kernels.no_nulls(pc.and_(comparable, pc.not_equal(gender, info.field("gender"))))
        return Verdict(mask, kernels.joined(id_col, gender, sep=f" {params.gender}="))

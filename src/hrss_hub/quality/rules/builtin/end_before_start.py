"""``end_before_start``: an end date precedes its start date."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import DateField, Rule, RuleContext, RuleParams, Verdict


class EndBeforeStartParams(RuleParams):
    """The start and the end date fields."""

    start: DateField = "start_date"
    end: DateField = "end_date"


class EndBeforeStart(Rule[EndBeforeStartParams]):
    """Judged where both are real dates; an end on the start day is fine."""

    id = "end_before_start"
    label_zh = "结束早于开始"
    label_en = "end before start"
    description = "An end date precedes its start date."
    params_model = EndBeforeStartParams
    expectation = "expect_end_date_not_before_start_date"
    reported = "end"

    def predicate(self, columns: Sequence[pa.Array], params: EndBeforeStartParams,
                  ctx: RuleContext) -> Verdict:
        """End dates before their start dates."""
        start_text, end_text = columns
        (start, s_ok), (end, e_ok) = kernels.iso_dates(start_text), kernels.iso_dates(end_text)
        mask = kernels.no_nulls(pc.and_(pc.and_(s_ok, e_ok), pc.less(end, start)))
        return Verdict(mask, kernels.joined(start_text, end_text, sep=" > "))

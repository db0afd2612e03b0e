"""``reference_missing``: a value does not exist in another entity's data."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, Rule, RuleContext, RuleParams, Scope, Verdict


class ReferenceParams(RuleParams):
    """The field, and the entity field its values must exist in."""

    column: AnyField
    entity: str
    entity_field: str


class ReferenceMissing(Rule[ReferenceParams]):
    """The values referred to come from the rule context (``RuleContext.references``); where
    none are available nothing is judged."""

    id = "reference_missing"
    label_zh = "引用的记录不存在"
    label_en = "referenced record missing"
    description = "A value (e.g. a contribution's person) is not present in the referenced entity."
    default_severity = "warning"
    declared_by = ("entity `rules:` {id: reference_missing, column: F, entity: E, "
                   "entity_field: G}, or a hand-written suite")
    order = 80
    params_model = ReferenceParams
    expectation = "expect_column_values_to_exist_in_entity"

    def check_params(self, params: ReferenceParams, scope: Scope) -> list[tuple[str, str]]:
        """The referenced entity and field exist."""
        fields = scope.entities.get(params.entity)
        if fields is None:
            return [("entity", f"unknown entity {params.entity!r}; valid: "
                     + ", ".join(sorted(scope.entities)))]
        if params.entity_field not in fields:
            return [("entity_field", f"unknown reference {params.entity}.{params.entity_field}; "
                     "fields: " + ", ".join(sorted(fields)))]
        return []

    def predicate(self, columns: Sequence[pa.Array], params: ReferenceParams,
                  ctx: RuleContext) -> Verdict:
        """Values not among the referenced entity field's values."""
        (col,) = columns
        ref = ctx.reference(params.entity, params.entity_field)
        if ref is None:
            return Verdict(kernels.falses(len(col)), col)
        return Verdict(pc.invert(kernels.no_nulls(pc.is_in(col, value_set=ref))), col)

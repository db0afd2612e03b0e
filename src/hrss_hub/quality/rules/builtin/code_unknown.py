"""``code_unknown``: a value is not a code of the field's code list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field as Param

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import AnyField, Rule, RuleContext, RuleParams, Scope, Verdict

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class CodeListParams(RuleParams):
    """The field, its code list and the list's version the suite was generated for."""

    column: AnyField
    code_list: str
    code_list_version: str | None = Param(
        None, description="checked against the standard: a stale suite is refused")


class CodeUnknown(Rule[CodeListParams]):
    """The mapping maps source values onto codes (the list's codes, aliases and labels, or a
    ``map:``); on the frame a mapped value is its code, anything else the source text."""

    id = "code_unknown"
    label_zh = "代码不在代码表中"
    label_en = "value not in code list"
    description = "A value is not a code of the field's code list (nor an alias or label)."
    stage = "mapping"
    declared_by = "field: `code_list: NAME`"
    order = 30
    params_model = CodeListParams
    expectation = "expect_column_values_to_be_in_code_list"
    counts_also = ("code_unmapped",)
    declarable = False

    def from_field(self, f: Field, entity: Entity,
                   standard: Standard) -> CodeListParams | None:
        """Every field with a ``code_list:``."""
        if not f.code_list:
            return None
        cl = standard.code_list(f.code_list)
        return CodeListParams(column=f.name, code_list=cl.name, code_list_version=cl.version)

    def check_params(self, params: CodeListParams, scope: Scope) -> list[tuple[str, str]]:
        """The code list exists, in the version named."""
        if params.code_list not in scope.code_lists:
            return [("code_list", f"unknown code list {params.code_list!r}; valid: "
                     + ", ".join(sorted(scope.code_lists)))]
        actual = scope.code_lists[params.code_list]
        if params.code_list_version is not None and params.code_list_version != actual:
            return [("code_list_version",
                     f"code list {params.code_list} is version {actual}, the suite expects "
                     f"{params.code_list_version}; regenerate: hrss-hub expectations build")]
        return []

    def predicate(self, columns: Sequence[pa.Array], params: CodeListParams,
                  ctx: RuleContext) -> Verdict:
        """Values that are not a canonical code of the list."""
        (col,) = columns
        known = ctx.standard.code_list(params.code_list).is_valid_array(col)
        return Verdict(pc.invert(kernels.no_nulls(known)), col)

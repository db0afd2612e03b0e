"""``pattern_mismatch``: a value does not match the field's ``pattern:``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import kernels
from hrss_hub.quality.rules.base import (
    AnyField,
    Rule,
    RuleContext,
    RuleParams,
    Scope,
    Verdict,
    type_family,
)

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard


class PatternParams(RuleParams):
    """The field and the regular expression its values must contain a match of."""

    column: AnyField
    regex: str


class PatternMismatch(Rule[PatternParams]):
    """Search semantics (as Great Expectations' pandas engine): anchor with ``^…$`` to
    match the whole value."""

    id = "pattern_mismatch"
    label_zh = "格式不符"
    label_en = "pattern mismatch"
    description = "A value does not match the field's regular expression."
    default_severity = "warning"
    declared_by = "field: `pattern: REGEX`"
    order = 40
    params_model = PatternParams
    expectation = "expect_column_values_to_match_regex"
    gx_builtin = True

    def from_field(self, f: Field, entity: Entity, standard: Standard) -> PatternParams | None:
        """Fields with a pattern, unless an identifier or period check already implies it."""
        if not f.pattern or f.identifier or type_family(f.type) == "period":
            return None
        return PatternParams(column=f.name, regex=f.pattern)

    def check_params(self, params: PatternParams, scope: Scope) -> list[tuple[str, str]]:
        """The expression must compile for Python (GX) and for Arrow (RE2, the gate)."""
        problem = regex_problem(params.regex)
        return [("regex", problem)] if problem else []

    def predicate(self, columns: Sequence[pa.Array], params: PatternParams,
                  ctx: RuleContext) -> Verdict:
        """Values without a match of ``regex``."""
        (col,) = columns
        matched = kernels.no_nulls(pc.match_substring_regex(col, params.regex))
        return Verdict(pc.invert(matched), col)


def regex_problem(regex: str) -> str | None:
    """Why ``regex`` cannot be used (it must compile for Python's ``re``, which Great
    Expectations uses, and for RE2, which Arrow uses); None when it can."""
    try:
        re.compile(regex)
        # Arrow compiles the expression only when it has a value to match
        pc.match_substring_regex(pa.array([""], pa.string()), regex)
    except (re.error, pa.ArrowInvalid) as exc:
        return f"invalid regular expression {regex!r}: {exc}"
    return None

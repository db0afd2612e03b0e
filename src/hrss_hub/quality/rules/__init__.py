"""The rule registry: every quality rule of the hub, one class per rule.

A rule has an id, zh/en labels and a description, a typed parameters model, a default
severity and one vectorized predicate (Arrow text columns in, a boolean mask of failing rows
and the offending values out) — see :mod:`.base`. Built-in rules live one per file in
:mod:`.builtin`; other packages add rules through the ``hrss_hub.rules`` entry-point group
(:mod:`.registry`). Everything else derives from the registry: the standard checker (which
rules a standard may declare, and their parameters), suite generation, the row gate, the
Great Expectations custom expectations, the data dictionary's rule table and the report's
labels.
"""

from __future__ import annotations

from hrss_hub.quality.rules.base import (
    GX_SEVERITY,
    SEVERITIES,
    AnyField,
    ColumnParams,
    DateField,
    FieldRef,
    RecordedRule,
    Rule,
    RuleBase,
    RuleContext,
    RuleParams,
    Scope,
    Severity,
    Stage,
    Verdict,
    most_severe,
    quarantines,
)
from hrss_hub.quality.rules.declare import ParamProblem, did_you_mean, validate_params
from hrss_hub.quality.rules.registry import (
    ENTRY_POINT_GROUP,
    Registry,
    RuleRegistrationError,
    refresh,
    registry,
)

__all__ = [
    "ENTRY_POINT_GROUP", "GX_SEVERITY", "SEVERITIES", "AnyField", "ColumnParams", "DateField",
    "FieldRef", "ParamProblem", "RecordedRule", "Registry", "Rule", "RuleBase", "RuleContext",
    "RuleParams", "RuleRegistrationError", "Scope", "Severity", "Stage", "Verdict",
    "did_you_mean", "label", "most_severe", "quarantines", "refresh", "registry",
    "validate_params",
]


def label(rule_id: str) -> tuple[str, str]:
    """``(中文, English)`` label of a rule id; the id itself twice when it is not registered
    (e.g. a rule of an older run that a plugin no longer provides)."""
    rule = registry().find(rule_id)
    return (rule.label_zh, rule.label_en) if rule is not None else (rule_id, rule_id)

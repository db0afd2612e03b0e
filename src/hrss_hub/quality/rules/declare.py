"""Checking a rule's parameters where they are declared: an entity's ``rules:`` in the
standard, or an expectation's ``kwargs`` in a suite. One function for both, so a rule's
parameters mean the same thing everywhere and every problem names the parameter.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hrss_hub.quality.rules.base import Rule, RuleParams, Scope, type_family


@dataclass(frozen=True)
class ParamProblem:
    """One problem of a declaration: the parameter it concerns (None: the whole) and what."""

    param: str | None
    message: str


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(value, sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_params(rule: Rule[Any], raw: Mapping[str, object],
                    scope: Scope) -> tuple[RuleParams | None, list[ParamProblem]]:
    """Parse ``raw`` into the rule's parameters and check them against ``scope``.

    Returns the parameters (None when they cannot be parsed) and every problem found:
    unknown parameters (with did-you-mean), missing or mistyped ones (pydantic), fields the
    entity does not have or of the wrong type, and the rule's own checks.
    """
    model = rule.params_model
    known = set(model.model_fields)
    problems: list[ParamProblem] = []
    clean: dict[str, object] = {}
    for key, value in raw.items():
        if key not in known:
            problems.append(ParamProblem(key, f"unknown parameter {key!r} of rule {rule.id!r}"
                                         + did_you_mean(key, known)
                                         + f"; parameters: {', '.join(model.model_fields)}"))
        else:
            clean[key] = value
    field_names = {name for name, _, _ in model.field_params()}
    try:
        params = model.model_validate(clean)
    except ValidationError as exc:
        for err in exc.errors():
            param = str(err["loc"][0]) if err["loc"] else None
            if err["type"] == "missing":
                what = " (a field name)" if param in field_names else ""
                problems.append(ParamProblem(param, f"rule {rule.id!r} needs parameter "
                                             f"{param!r}{what}"))
            else:
                problems.append(ParamProblem(param, f"parameter {param!r} of rule {rule.id!r}: "
                                             f"{err['msg']}, got {err.get('input')!r}"))
        return None, problems
    for name, ref, is_list in model.field_params():
        value = getattr(params, name)
        for target in (value if is_list else (value,)):
            if target not in scope.fields:
                problems.append(ParamProblem(
                    name, f"rule {rule.id!r} names unknown field {target!r} of entity "
                    f"{scope.entity!r}" + did_you_mean(str(target), scope.fields)))
            elif ref.types and type_family(scope.fields[target]) not in ref.types:
                problems.append(ParamProblem(
                    name, f"field {target!r} must be of type {' or '.join(ref.types)} for rule "
                    f"{rule.id!r} (it is {scope.fields[target]})"))
    problems.extend(ParamProblem(p, m) for p, m in rule.check_params(params, scope))
    return (params if not problems else None), problems

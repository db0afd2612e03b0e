"""Best-effort file pruning by ``jsonPredicateHints`` on partition columns.

The protocol makes predicate hints a hint: a server may return files that do not match,
never fewer than those that do, and must ignore a hint it cannot evaluate. So a predicate
is evaluated per file on its partition values with three-valued logic — ``True``,
``False`` or ``None`` (unknown: a non-partition column, an unknown op or type) — and a
file is dropped only when the predicate is definitely ``False``. Legacy SQL
``predicateHints`` are accepted and ignored (the JSON form supersedes them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

Value = Any
_COMPARE: dict[str, Callable[[Value, Value], bool]] = {
    "equal": lambda a, b: bool(a == b),
    "lessThan": lambda a, b: bool(a < b),
    "lessThanOrEqual": lambda a, b: bool(a <= b),
    "greaterThan": lambda a, b: bool(a > b),
    "greaterThanOrEqual": lambda a, b: bool(a >= b),
}


class Unknown(Exception):
    """The predicate (or a part of it) cannot be evaluated on partition values."""


def parse_hint(text: str | None) -> Mapping[str, Any] | None:
    """The parsed JSON predicate, or ``None`` when absent or not valid JSON (ignored)."""
    if not text:
        return None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def may_match(predicate: Mapping[str, Any] | None, partition_values: Mapping[str, str | None],
              partition_columns: Sequence[str]) -> bool:
    """Whether a file with these partition values may hold matching rows."""
    if predicate is None:
        return True
    try:
        return _eval(predicate, partition_values, set(partition_columns)) is not False
    except (Unknown, KeyError, TypeError, ValueError):
        return True


def _try(node: Mapping[str, Any], values: Mapping[str, str | None],
         partitions: set[str]) -> bool | None:
    """A child of and/or/not: unknown (``None``) when it cannot be evaluated."""
    try:
        return _eval(node, values, partitions)
    except (Unknown, KeyError, TypeError, ValueError, IndexError):
        return None


def _eval(node: Mapping[str, Any], values: Mapping[str, str | None],
          partitions: set[str]) -> bool | None:
    op = node.get("op")
    children = node.get("children") or []
    if op == "and":
        results = [_try(c, values, partitions) for c in children]
        if False in results:
            return False
        return None if None in results else True
    if op == "or":
        results = [_try(c, values, partitions) for c in children]
        if True in results:
            return True
        return None if None in results else False
    if op == "not":
        inner = _try(children[0], values, partitions)
        return None if inner is None else not inner
    if op == "isNull":
        return _leaf(children[0], values, partitions) is None
    if op in _COMPARE:
        left, right = (_leaf(c, values, partitions) for c in children[:2])
        if left is None or right is None:
            return False  # SQL: a comparison with NULL is never true
        return _COMPARE[op](left, right)
    raise Unknown(op)


def _leaf(node: Mapping[str, Any], values: Mapping[str, str | None],
          partitions: set[str]) -> Value:
    value_type = node.get("valueType")
    if node.get("op") == "column":
        name = node.get("name")
        if name not in partitions:
            raise Unknown(name)
        raw = values.get(str(name))
        return None if raw in (None, "") else _typed(str(raw), value_type)
    if node.get("op") == "literal":
        return _typed(str(node.get("value")), value_type)
    raise Unknown(node.get("op"))


def _typed(text: str, value_type: object) -> Value:
    if value_type == "string":
        return text
    if value_type in ("int", "long"):
        return int(text)
    if value_type in ("float", "double"):
        return float(text)
    if value_type == "bool":
        return text.lower() == "true"
    if value_type == "date":
        return date.fromisoformat(text)
    if value_type == "timestamp":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    raise Unknown(value_type)

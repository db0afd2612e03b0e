"""The declared ``schema:`` of a REST stream: field types, JSON value → Arrow value.

A REST stream declares the type of every field it reads (``string``, ``integer``,
``number``, ``boolean``, ``date``, ``timestamp``). Each JSON value is converted by its
field's converter; a value that does not fit raises :class:`BadValue`, whose message is
the reason the record is rejected (with its location), never a silent null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

#: declared schema type → Arrow type
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}

_INT_RE = re.compile(r"[+-]?\d+")
_INT64 = (-(2**63), 2**63 - 1)


class BadValue(ValueError):
    """A value that does not fit its declared type (the message is the reason)."""


# ---------------------------------------------------------------------------------------
# one converter per type, JSON value → Python value Arrow accepts
# ---------------------------------------------------------------------------------------

def describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        # numbers and booleans are fine for a string field; JSON spelling keeps 1.0 vs 1
        return json.dumps(value)
    raise BadValue(f"expected string, got {describe(value)}")


def _to_integer(value: Any) -> int:
    result: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        result = int(value.strip())
    if result is None:
        raise BadValue(f"expected integer, got {describe(value)}")
    if not _INT64[0] <= result <= _INT64[1]:
        raise BadValue(f"integer {result} is out of the 64-bit range")
    return result


def _to_number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise BadValue(f"expected number, got {describe(value)}")


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadValue(f"expected boolean, got {describe(value)}")


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())  # 2024-05-01 and 20240501
        except ValueError:
            pass
    raise BadValue(f"expected date (YYYY-MM-DD), got {describe(value)}")


def _to_timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                # Arrow column is naive: values with an offset are stored as UTC wall time
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            return parsed
    raise BadValue(f"expected timestamp (ISO 8601), got {describe(value)}")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "date": _to_date,
    "timestamp": _to_timestamp,
}


@dataclass(frozen=True)
class DeclaredField:
    """One field of a stream's ``schema:``: name, type name and whether it is required."""

    name: str
    type: str
    required: bool

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the field's column."""
        return ARROW_TYPES[self.type]

    def convert(self, value: Any) -> Any:
        """The JSON ``value`` as a Python value of the field's type (``BadValue`` if not)."""
        return _CONVERTERS[self.type](value)

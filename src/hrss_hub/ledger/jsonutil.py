"""JSON values as the ledger stores and hashes them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from hrss_hub.errors import LedgerError


def _lenient(value: Any) -> Any:
    # summaries and details are records for people: common non-JSON values become text
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath | Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(value: Any) -> str:
    """Deterministic JSON text (sorted keys, no whitespace, UTF-8 kept) used for hashing."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def to_json(value: Mapping[str, Any] | None, *, what: str, strict: bool = False,
            **context: Any) -> dict[str, Any]:
    """``value`` as the plain JSON object it will read back as.

    ``strict`` (for watermark state) refuses anything that is not already JSON, because a
    connector must get back exactly the types it stored; otherwise dates, paths, decimals
    and sets are converted to text/lists.
    """
    if value is None:
        return {}
    try:
        text = json.dumps(dict(value), allow_nan=False, default=None if strict else _lenient)
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"{what} is not JSON-serializable: {exc}", context,
                          "store only str, int, float, bool, None, lists and dicts") from None
    result: dict[str, Any] = json.loads(text)
    return result

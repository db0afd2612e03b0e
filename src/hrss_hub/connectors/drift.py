"""Schema drift: compare a stream's Arrow schema with the snapshot of the last run.

The engine stores :func:`schema_to_json` of each stream in the ledger; on the next run it
calls :func:`compare` and :func:`apply_policy`. ``fail`` (the default) stops the run with a
``SchemaDriftError`` listing the changes, so no run reports success while silently dropping
or mis-writing a column; ``evolve`` and ``ignore`` return a report that is logged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from hrss_hub.errors import SchemaDriftError, unknown_choice

POLICIES = ("fail", "evolve", "ignore")


def schema_to_json(schema: pa.Schema) -> dict[str, Any]:
    """A JSON-able, order-preserving description: ``{"fields": [{"name", "type", "nullable"}]}``."""
    return {"fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable}
                       for f in schema]}


def fingerprint(schema: pa.Schema) -> str:
    """SHA-256 of the canonical JSON of :func:`schema_to_json` (names, types, nullability)."""
    text = json.dumps(schema_to_json(schema), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Drift:
    """Differences between an old snapshot and a new schema."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: column → (old type, new type)
    type_changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    first_seen: bool = False

    @property
    def is_empty(self) -> bool:
        """True when nothing changed (or there was no previous snapshot)."""
        return not (self.added or self.removed or self.type_changed)

    def describe(self) -> str:
        """Human text, one change per clause."""
        if self.first_seen:
            return "first run: schema recorded"
        if self.is_empty:
            return "no schema change"
        parts = [f"added column {c!r}" for c in self.added]
        parts += [f"removed column {c!r}" for c in self.removed]
        parts += [f"column {c!r} changed type {a} → {b}" for c, (a, b) in
                  self.type_changed.items()]
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """JSON-able report (for the ledger and the run report)."""
        return {"added": self.added, "removed": self.removed,
                "type_changed": {k: list(v) for k, v in self.type_changed.items()},
                "first_seen": self.first_seen}


def compare(old: dict[str, Any] | None, new: pa.Schema) -> Drift:
    """Drift from snapshot ``old`` (``schema_to_json`` output, or None on a first run)."""
    if old is None:
        return Drift(first_seen=True)
    old_types = {f["name"]: f["type"] for f in old.get("fields", [])}
    new_types = {f.name: str(f.type) for f in new}
    return Drift(
        added=[n for n in new_types if n not in old_types],
        removed=[n for n in old_types if n not in new_types],
        type_changed={n: (old_types[n], t) for n, t in new_types.items()
                      if n in old_types and old_types[n] != t},
    )


def apply_policy(drift: Drift, policy: str, system: str, stream: str) -> dict[str, Any]:
    """Enforce ``policy`` on ``drift``: raise for ``fail``, else return a report."""
    if policy not in POLICIES:
        raise unknown_choice("drift policy", policy, POLICIES, system=system, stream=stream)
    if policy == "fail" and not drift.is_empty:
        raise SchemaDriftError(
            f"schema of the source changed: {drift.describe()}",
            {"system": system, "stream": stream},
            "check the mapping still fits, then set `drift: evolve` on the stream to accept "
            "the new schema (or `drift: ignore`)",
        )
    return {"policy": policy, "changed": not drift.is_empty, "description": drift.describe(),
            **drift.to_json()}

"""Evaluating checks: SQL result rows → findings with stable ids and evidence.

A finding's id is a digest of the check id and the values of the check's ``key`` columns,
so the same situation found by a later run — or by another hub over the same data — is the
same finding. Its evidence rows are sorted, so the evidence of an unchanged situation is
byte-for-byte the same and republishing it changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hrss_hub.errors import ConfigError
from hrss_hub.supervision.spec import Check

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Found:
    """One finding as one run found it."""

    id: str
    check_id: str
    severity: str
    citizen_id: str
    divisions: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]

    @property
    def subject(self) -> str:
        """A digest of the person's ID (what the ledger keeps instead of the ID)."""
        return hashlib.sha256(f"person|{self.citizen_id}".encode()).hexdigest()

    def evidence_json(self) -> str:
        """The evidence rows as canonical JSON (sorted keys, fixed row order)."""
        return json.dumps(list(self.evidence), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))


def finding_id(check_id: str, key_values: tuple[Any, ...]) -> str:
    """The stable id of the situation ``key_values`` of check ``check_id``."""
    text = "\x1f".join([check_id, *(_plain(v) or "" for v in key_values)])
    return "F" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:19]


def _plain(value: Any) -> Any:
    """A JSON-safe value: dates ISO, decimals as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def evaluate(con: duckdb.DuckDBPyConnection, check: Check) -> list[Found]:
    """Run ``check``'s SQL and group its rows into findings (sorted by id)."""
    import duckdb

    try:
        rel = con.sql(check.sql)
    except duckdb.Error as exc:
        raise ConfigError(f"supervision check {check.id!r}: its SQL failed: "
                          f"{str(exc).splitlines()[0]}", {"file": str(check.source_file)},
                          "run the SQL in duckdb over the published tables to fix it") from None
    if rel is None:
        raise ConfigError(f"supervision check {check.id!r}: its SQL returns no rows",
                          {"file": str(check.source_file)}, "the sql must be one SELECT")
    missing = [c for c in check.columns if c not in rel.columns]
    if missing:
        raise ConfigError(f"supervision check {check.id!r}: its SQL lacks the column(s) "
                          + ", ".join(missing), {"file": str(check.source_file)},
                          "select citizen_id, division, source_system, source_key, the key "
                          "and the evidence columns")
    table = rel.select(*[duckdb.ColumnExpression(c) for c in check.columns]).to_arrow_table()
    groups: dict[str, list[dict[str, Any]]] = {}
    meta: dict[str, tuple[str, set[str]]] = {}
    for row in table.to_pylist():
        key = tuple(row[c] for c in check.key)
        fid = finding_id(check.id, key)
        evidence = {c: _plain(row[c]) for c in
                    ("source_system", "source_key", "division", *check.evidence)}
        groups.setdefault(fid, []).append(evidence)
        person, divisions = meta.setdefault(fid, (str(row["citizen_id"]), set()))
        if row["division"] is not None:
            divisions.add(str(row["division"]))
    out = []
    for fid in sorted(groups):
        rows = sorted(groups[fid], key=lambda r: json.dumps(r, sort_keys=True, default=str))
        unique = tuple({json.dumps(r, sort_keys=True, default=str): r for r in rows}.values())
        person, divisions = meta[fid]
        out.append(Found(fid, check.id, check.severity, person, tuple(sorted(divisions)),
                         unique))
    return out

"""Sharing agreements (``sharing/*.yaml``): who gets which columns of which rows, why.

One file per recipient department. Columns are denied by default: only the columns an
agreement lists are delivered, each with an action:

- ``keep``: the value as published;
- ``partial``: a display mask, e.g. ``510107********123X`` (first 6 and last 4 kept);
- ``pseudonym``: HMAC-SHA256 with the recipient's own key, so two recipients cannot join
  their extracts on it (and nobody can reverse it by hashing all possible IDs);
- ``drop``: listed for the record, never delivered (the same as not listing it).

Personal identifier columns (citizen ID) may be kept raw only when the agreement says
``allow_raw_identifiers: true``: joining on raw IDs is a decision, not a default.
Outside ``valid_from``..``valid_to``, or once ``revoked: true``, an agreement delivers
nothing and its outboxes are emptied on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from hrss_hub.errors import ConfigError
from hrss_hub.standard.model import Standard

ACTIONS = ("keep", "partial", "pseudonym", "drop")
#: identifier kinds that identify a person (an employer's USCC is public register data)
PERSONAL_IDENTIFIERS = ("citizen_id",)
#: fields holding an ID number as the source had it (not normalised, so no identifier tag)
RAW_ID_FIELDS = ("citizen_id_raw",)
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
_TOP_KEYS = {"recipient", "purpose", "legal_basis", "valid_from", "valid_to", "rows",
             "datasets", "allow_raw_identifiers", "description", "revoked"}
_RECIPIENT_KEYS = {"id", "name", "level", "division"}


@dataclass(frozen=True)
class DatasetGrant:
    """What an agreement grants on one dataset."""

    dataset: str
    columns: Mapping[str, str]  # column -> action (drop included)
    division_prefixes: tuple[str, ...] | None  # None: all rows

    @property
    def delivered_columns(self) -> list[str]:
        """Columns that reach the recipient (everything but ``drop``)."""
        return [c for c, a in self.columns.items() if a != "drop"]


@dataclass(frozen=True)
class Agreement:
    """One parsed sharing agreement."""

    recipient_id: str
    recipient_name: str
    purpose: str
    legal_basis: str
    valid_from: date
    valid_to: date
    datasets: Mapping[str, DatasetGrant]
    source_file: Path
    recipient_level: str | None = None
    recipient_division: str | None = None
    allow_raw_identifiers: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: ``revoked: true``: withdrawn before its validity ends (outboxes emptied next run)
    revoked: bool = False

    def active_on(self, day: date) -> bool:
        """Whether the agreement is in force on ``day``."""
        return self.valid_from <= day <= self.valid_to

    def summary(self) -> dict[str, Any]:
        """What a manifest, the catalog and the audit log record about the agreement."""
        return {"recipient": self.recipient_id, "recipient_name": self.recipient_name,
                "purpose": self.purpose, "legal_basis": self.legal_basis,
                "valid_from": self.valid_from.isoformat(), "valid_to": self.valid_to.isoformat(),
                "agreement_file": self.source_file.name}


def load_agreements(folder: Path | None) -> list[Agreement]:
    """Every ``*.yaml`` agreement in ``folder`` (missing folder: none)."""
    if folder is None or not folder.is_dir():
        return []
    out = [load_agreement(p) for p in sorted(folder.glob("*.yaml"))]
    seen: dict[str, Path] = {}
    for a in out:
        if a.recipient_id in seen:
            raise ConfigError(f"recipient {a.recipient_id!r} has two agreements",
                              {"file": str(a.source_file), "other": str(seen[a.recipient_id])},
                              "keep one agreement file per recipient")
        seen[a.recipient_id] = a.source_file
    return out


def load_agreement(path: Path) -> Agreement:
    """Parse one agreement file; structural errors name the file and YAML path."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"agreement is not valid YAML: {getattr(exc, 'problem', exc)}",
                          {"file": str(path), "line": mark.line + 1 if mark else None}) from None
    if not isinstance(doc, dict):
        raise ConfigError("an agreement must be a mapping", {"file": str(path)})

    def need(key: str, where: Mapping[str, Any] = doc, prefix: str = "") -> Any:
        if key not in where or where[key] in (None, ""):
            raise ConfigError(f"missing {prefix}{key}", {"file": str(path), "path": prefix + key})
        return where[key]

    unknown = set(doc) - _TOP_KEYS
    if unknown:
        from hrss_hub.errors import unknown_choice

        raise unknown_choice("agreement key", sorted(unknown)[0], _TOP_KEYS, file=str(path))
    recipient = need("recipient")
    if not isinstance(recipient, dict) or set(recipient) - _RECIPIENT_KEYS:
        raise ConfigError("recipient must be a mapping of id, name, level, division",
                          {"file": str(path), "path": "recipient"})
    rid = str(need("id", recipient, "recipient."))
    if not _ID_RE.match(rid):
        raise ConfigError(f"recipient id {rid!r} must be lower-case letters, digits, - or _",
                          {"file": str(path), "path": "recipient.id"},
                          "it names the recipient's outbox folder and key")
    valid_from, valid_to = _date(need("valid_from"), path, "valid_from"), _date(
        need("valid_to"), path, "valid_to")
    top_rows = _prefixes(doc.get("rows"), path, "rows")
    datasets_doc = need("datasets")
    if not isinstance(datasets_doc, dict) or not datasets_doc:
        raise ConfigError("datasets must map dataset names to grants",
                          {"file": str(path), "path": "datasets"})
    grants = {}
    for name, grant in datasets_doc.items():
        where = f"datasets.{name}"
        if not isinstance(grant, dict) or not isinstance(grant.get("columns"), dict):
            raise ConfigError("a dataset grant needs a columns mapping (column: action)",
                              {"file": str(path), "path": where},
                              "columns are denied by default: list each one you share")
        columns = {str(c): str(a) for c, a in grant["columns"].items()}
        rows = _prefixes(grant.get("rows"), path, f"{where}.rows")
        grants[str(name)] = DatasetGrant(str(name), columns, rows if rows is not None
                                         else top_rows)
    return Agreement(
        recipient_id=rid, recipient_name=str(need("name", recipient, "recipient.")),
        purpose=str(need("purpose")), legal_basis=str(need("legal_basis")),
        valid_from=valid_from, valid_to=valid_to, datasets=grants, source_file=path,
        recipient_level=recipient.get("level"),
        recipient_division=None if recipient.get("division") is None
        else str(recipient["division"]),
        allow_raw_identifiers=bool(doc.get("allow_raw_identifiers", False)), raw=doc,
        revoked=doc.get("revoked") is True)


def _date(value: Any, path: Path, key: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{key} must be a date (YYYY-MM-DD), got {value!r}",
                          {"file": str(path), "path": key}) from None


def _prefixes(rows: Any, path: Path, where: str) -> tuple[str, ...] | None:
    if rows is None:
        return None
    if not isinstance(rows, dict) or "division_prefix" not in rows:
        raise ConfigError("rows must be a mapping with division_prefix",
                          {"file": str(path), "path": where})
    value = rows["division_prefix"]
    items = value if isinstance(value, list) else [value]
    prefixes = tuple(str(v) for v in items)
    for p in prefixes:
        if not p.isdigit() or len(p) > 6:
            raise ConfigError(f"division prefix {p!r} must be 1–6 digits (GB/T 2260)",
                              {"file": str(path), "path": f"{where}.division_prefix"})
    return prefixes


def check_agreements(agreements: list[Agreement], standard: Standard,
                     today: date | None = None) -> tuple[list[str], list[str]]:
    """Check agreements against the standard; return (problems, warnings)."""
    today = today or date.today()
    problems: list[str] = []
    warnings: list[str] = []
    for a in agreements:
        where = a.source_file.name
        if a.valid_from > a.valid_to:
            problems.append(f"{where}: valid_from is after valid_to")
        elif a.valid_to < today:
            warnings.append(f"{where}: expired on {a.valid_to} (delivers nothing)")
        elif a.valid_from > today:
            warnings.append(f"{where}: not in force before {a.valid_from}")
        for grant in a.datasets.values():
            gwhere = f"{where}: datasets.{grant.dataset}"
            if grant.dataset not in standard.entities:
                problems.append(f"{gwhere}: unknown dataset (entities: "
                                f"{', '.join(sorted(standard.entities))})")
                continue
            entity = standard.entity(grant.dataset)
            fields = {f.name: f for f in (*entity.fields, *entity.lineage_fields)}
            for column, action in grant.columns.items():
                if column not in fields:
                    problems.append(f"{gwhere}.columns.{column}: not a field of {entity.name}")
                    continue
                if action not in ACTIONS:
                    problems.append(f"{gwhere}.columns.{column}: action {action!r} is not one "
                                    f"of {', '.join(ACTIONS)}")
                    continue
                f = fields[column]
                if action in ("partial", "pseudonym") and f.type != "string":
                    problems.append(f"{gwhere}.columns.{column}: {action} needs a string "
                                    f"field, {column} is {f.type}")
                personal = f.identifier in PERSONAL_IDENTIFIERS or f.name in RAW_ID_FIELDS
                if (action == "keep" and personal
                        and not a.allow_raw_identifiers):
                    problems.append(f"{gwhere}.columns.{column}: raw citizen ID shared; "
                                    "use pseudonym/partial, or set allow_raw_identifiers: true")
            if not grant.delivered_columns:
                problems.append(f"{gwhere}: no column is delivered")
            if grant.division_prefixes is not None:
                names = {f.name for f in entity.fields}
                if not names & {"division", "address_division"}:
                    problems.append(f"{gwhere}.rows: {entity.name} has no division column "
                                    "to scope rows by")
    return problems, warnings

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
Outside ``valid_from``..``valid_to`` an agreement delivers nothing, and neither does an
agreement marked ``revoked: true`` (withdrawn before its end date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hrss_hub.config.problems import ConfigProblems, Problem
from hrss_hub.config.sharing import ACTIONS, AgreementFile
from hrss_hub.config.validation import validate_doc
from hrss_hub.config.yamldoc import read_yaml

if TYPE_CHECKING:
    from hrss_hub.standard.model import Standard

__all__ = ["ACTIONS", "Agreement", "DatasetGrant", "check_agreement_files", "check_agreements",
           "load_agreement",
           "load_agreements"]

#: identifier kinds that identify a person (an employer's USCC is public register data)
PERSONAL_IDENTIFIERS = ("citizen_id",)
#: fields holding an ID number as the source had it (not normalised, so no identifier tag)
RAW_ID_FIELDS = ("citizen_id_raw",)


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
    revoked: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    def active_on(self, day: date) -> bool:
        """Whether the agreement is in force on ``day`` (never once revoked)."""
        return not self.revoked and self.valid_from <= day <= self.valid_to

    def summary(self) -> dict[str, Any]:
        """What a manifest, the catalog and the audit log record about the agreement."""
        return {"recipient": self.recipient_id, "recipient_name": self.recipient_name,
                "purpose": self.purpose, "legal_basis": self.legal_basis,
                "valid_from": self.valid_from.isoformat(), "valid_to": self.valid_to.isoformat(),
                "agreement_file": self.source_file.name}


def load_agreements(folder: Path | None) -> list[Agreement]:
    """Every ``*.yaml`` agreement in ``folder`` (missing folder: none); every problem of
    every file is raised together."""
    if folder is None or not folder.is_dir():
        return []
    out: list[Agreement] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            out.append(load_agreement(path))
        except ConfigProblems as exc:
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    for a in out:
        if a.recipient_id in seen:
            problems.append(Problem(str(a.source_file), None, "recipient.id",
                                    f"recipient {a.recipient_id!r} has two agreements",
                                    f"also in {seen[a.recipient_id]}; keep one agreement file "
                                    "per recipient"))
        seen.setdefault(a.recipient_id, a.source_file)
    if problems:
        raise ConfigProblems.collect(problems)
    return out


def load_agreement(path: Path) -> Agreement:
    """Parse one agreement file; every problem names the file, line and YAML path."""
    doc = read_yaml(path, "agreement")
    model = validate_doc(AgreementFile, doc)
    top_rows = model.rows.division_prefix if model.rows is not None else None
    grants = {
        name: DatasetGrant(name, dict(grant.columns),
                           grant.rows.division_prefix if grant.rows is not None else top_rows)
        for name, grant in model.datasets.items()}
    raw = doc.data if isinstance(doc.data, dict) else {}
    return Agreement(
        recipient_id=model.recipient.id, recipient_name=model.recipient.name,
        purpose=model.purpose, legal_basis=model.legal_basis, valid_from=model.valid_from,
        valid_to=model.valid_to, datasets=grants, source_file=path,
        recipient_level=model.recipient.level, recipient_division=model.recipient.division,
        allow_raw_identifiers=model.allow_raw_identifiers, revoked=model.revoked, raw=raw)


def check_agreements(agreements: list[Agreement], standard: Standard,
                     today: date | None = None) -> tuple[list[str], list[str]]:
    """Check agreements against the standard; return (problems, warnings)."""
    today = today or date.today()
    problems: list[str] = []
    warnings: list[str] = []
    for a in agreements:
        where = a.source_file.name
        if a.revoked:
            warnings.append(f"{where}: revoked (delivers nothing)")
        elif a.valid_to < today:
            warnings.append(f"{where}: expired on {a.valid_to} (delivers nothing)")
        elif a.valid_from > today:
            warnings.append(f"{where}: not in force before {a.valid_from}")
        for grant in a.datasets.values():
            problems.extend(_grant_problems(where, grant, standard, a.allow_raw_identifiers))
    return problems, warnings


def check_agreement_files(folder: Path | None, standard: Standard, today: date | None = None
                          ) -> tuple[list[Agreement], list[str], list[str]]:
    """Every agreement file of ``folder`` checked: (agreements, problems, warnings).

    A file with problems of its own (an unknown action, a missing purpose) still has its
    grants checked against the standard as far as they can be read, so one run of
    ``hrss-hub sharing check`` lists every problem.
    """
    if folder is None or not folder.is_dir():
        return [], [], []
    agreements: list[Agreement] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            agreements.append(load_agreement(path))
        except ConfigProblems as exc:
            problems.extend(str(p) for p in exc.problems)
            problems.extend(_raw_grant_problems(path, standard))
    found, warnings = check_agreements(agreements, standard, today)
    seen: dict[str, Path] = {}
    for a in agreements:
        if a.recipient_id in seen:
            problems.append(f"{a.source_file.name}: recipient {a.recipient_id!r} also has an "
                            f"agreement in {seen[a.recipient_id].name}")
        seen.setdefault(a.recipient_id, a.source_file)
    return agreements, problems + found, warnings


def _raw_grant_problems(path: Path, standard: Standard) -> list[str]:
    # the grants of a file that did not validate, read as far as their shape allows
    try:
        doc = read_yaml(path, "agreement").data
    except ConfigProblems:
        return []
    datasets = doc.get("datasets") if isinstance(doc, dict) else None
    if not isinstance(datasets, dict):
        return []
    problems = []
    for name, grant in datasets.items():
        columns = grant.get("columns") if isinstance(grant, dict) else None
        if not isinstance(columns, dict):
            continue
        known = {str(c): str(a) for c, a in columns.items() if a in ACTIONS}
        rows = grant.get("rows") or doc.get("rows")
        raw = DatasetGrant(str(name), known, ("",) if rows is not None else None)
        problems.extend(_grant_problems(path.name, raw, standard,
                                        bool(doc.get("allow_raw_identifiers", False)),
                                        complete=len(known) == len(columns)))
    return problems


def _grant_problems(where: str, grant: DatasetGrant, standard: Standard,
                    allow_raw_identifiers: bool, *, complete: bool = True) -> list[str]:
    """What is wrong with one dataset grant given the standard (``complete``: the grant
    holds every column of the file, so "no column is delivered" can be judged)."""
    gwhere = f"{where}: datasets.{grant.dataset}"
    if grant.dataset not in standard.entities:
        return [f"{gwhere}: unknown dataset (entities: {', '.join(sorted(standard.entities))})"]
    problems = []
    entity = standard.entity(grant.dataset)
    fields = {f.name: f for f in (*entity.fields, *entity.lineage_fields)}
    for column, action in grant.columns.items():
        if column not in fields:
            problems.append(f"{gwhere}.columns.{column}: not a field of {entity.name}")
            continue
        f = fields[column]
        if action in ("partial", "pseudonym") and f.type != "string":
            problems.append(f"{gwhere}.columns.{column}: {action} needs a string "
                            f"field, {column} is {f.type}")
        personal = f.identifier in PERSONAL_IDENTIFIERS or f.name in RAW_ID_FIELDS
        if action == "keep" and personal and not allow_raw_identifiers:
            problems.append(f"{gwhere}.columns.{column}: raw citizen ID shared; "
                            "use pseudonym/partial, or set allow_raw_identifiers: true")
    if complete and not grant.delivered_columns:
        problems.append(f"{gwhere}: no column is delivered")
    if grant.division_prefixes is not None:
        names = {f.name for f in entity.fields}
        if not names & {"division", "address_division"}:
            problems.append(f"{gwhere}.rows: {entity.name} has no division column "
                            "to scope rows by")
    return problems

"""Supervision checks (疑点比对 rules): one YAML file each in ``supervision/``.

A check is SQL over the published standard entities (each a DuckDB view named after the
entity: ``benefit_payment``, ``civil_status_event`` …) and the person master
(``person_master``, ``person_link``). It returns one row per piece of evidence; rows
sharing the values of ``key`` are one *finding* (one situation), whose stable id is a digest
of the check id and those values. Every result row must carry ``citizen_id``,
``division`` (a division concerned: the finding is delivered to each), ``source_system``
and ``source_key`` (where the evidence lives), plus the ``evidence`` columns::

    id: benefit_after_death
    title_zh: 死亡后仍领取待遇
    title_en: Benefit paid after the beneficiary's death
    severity: high
    legal_basis: 《社会保险法》第八十八条
    uses: [benefit_payment, civil_status_event]
    key: [citizen_id, benefit_type]
    evidence: [benefit_type, period, amount, event_date]
    sql: |
      SELECT … FROM benefit_payment p JOIN civil_status_event e USING (citizen_id) …

Adding a check is adding a file; ``load_checks`` validates every file and reports every
problem with its file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator

from hrss_hub.config.model import FileModel, Name, NameList, fail, fail_at
from hrss_hub.config.problems import ConfigProblems, Problem
from hrss_hub.config.validation import validate_doc
from hrss_hub.config.yamldoc import read_yaml
from hrss_hub.errors import ConfigError

#: columns every check's result rows carry (besides its key and evidence columns)
REQUIRED_COLUMNS = ("citizen_id", "division", "source_system", "source_key")
#: datasets a check may read besides the standard's entities
MASTER_VIEWS = ("person_master", "person_link")
_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")


class CheckFile(FileModel):
    """The YAML of one supervision check."""

    id: Name
    title_zh: Name
    title_en: Name
    severity: Literal["high", "medium", "low"]
    legal_basis: Name
    description: str = ""
    uses: NameList
    key: NameList
    evidence: NameList
    sql: Name

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise fail(f"check id must be lower-case letters, digits and _, got {value!r}",
                       "e.g. benefit_after_death (the file name without .yaml)")
        return value

    @model_validator(mode="after")
    def _key_has_person(self) -> CheckFile:
        if "citizen_id" not in self.key:
            raise fail_at((("key",), "a finding is about one person: key must include "
                           "citizen_id", "e.g. key: [citizen_id, benefit_type]"))
        return self


@dataclass(frozen=True)
class Check:
    """One loaded supervision check."""

    id: str
    title_zh: str
    title_en: str
    severity: str
    legal_basis: str
    description: str
    uses: tuple[str, ...]
    key: tuple[str, ...]
    evidence: tuple[str, ...]
    sql: str
    source_file: Path

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the check's SQL must return, in a fixed order."""
        seen: dict[str, None] = dict.fromkeys((*REQUIRED_COLUMNS, *self.key, *self.evidence))
        return tuple(seen)


def load_check(path: Path, entities: frozenset[str] | None = None) -> Check:
    """Parse one check file; ``entities`` (the standard's) checks ``uses``."""
    doc = read_yaml(path, "supervision check")
    model = validate_doc(CheckFile, doc)
    problems: list[Problem] = []
    if model.id != path.stem:
        problems.append(Problem(str(path), doc.line(("id",)), "id",
                                f"check id {model.id!r} differs from the file name",
                                f"name the file {model.id}.yaml"))
    if entities is not None:
        known = entities | set(MASTER_VIEWS)
        for i, name in enumerate(model.uses):
            if name not in known:
                problems.append(Problem(str(path), doc.line(("uses", i)), f"uses[{i}]",
                                        f"unknown dataset {name!r}",
                                        "valid: " + ", ".join(sorted(known))))
    if problems:
        raise ConfigProblems.collect(problems)
    return Check(id=model.id, title_zh=model.title_zh, title_en=model.title_en,
                 severity=model.severity, legal_basis=model.legal_basis,
                 description=model.description.strip(), uses=tuple(model.uses),
                 key=tuple(model.key), evidence=tuple(model.evidence), sql=model.sql,
                 source_file=path)


def checks_dir_problem(folder: Path | None) -> str | None:
    """Why ``folder`` gives no checks (it is unset, missing or holds no ``*.yaml``), or
    ``None`` when it holds at least one check file."""
    if folder is None:
        return "no supervision checks folder is configured"
    if not folder.is_dir():
        return f"the supervision checks folder {folder} does not exist"
    if not any(folder.glob("*.yaml")):
        return f"the supervision checks folder {folder} holds no check (*.yaml)"
    return None


#: what to do about a folder without checks
CHECKS_HINT = ("set `supervision:` in hub.yaml to the folder of the checks (one YAML each), "
               "or create supervision/ in the workspace")


def load_checks(folder: Path | None, entities: frozenset[str] | None = None, *,
                required: bool = False) -> list[Check]:
    """Every ``*.yaml`` check of ``folder`` sorted by id; the problems of every file are
    raised together. No folder gives no checks, or — ``required`` — a
    :class:`~hrss_hub.errors.ConfigError` naming the folder."""
    problem = checks_dir_problem(folder)
    if problem is not None and required:
        raise ConfigError(problem, {"folder": str(folder)}, CHECKS_HINT)
    if folder is None or not folder.is_dir():
        return []
    checks: list[Check] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            checks.append(load_check(path, entities))
        except ConfigProblems as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigProblems.collect(problems)
    return sorted(checks, key=lambda c: c.id)

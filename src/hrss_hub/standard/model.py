"""Load the unified data standard into typed objects.

``load_standard()`` reads a version folder (``standards/v1``) or the ``standards/``
folder (highest version wins), runs the full check and raises :class:`StandardError`
listing every problem if there is any. Results are cached per folder and refreshed when
a file changes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from hrss_hub.errors import StandardError
from hrss_hub.standard.check import format_problems, parse_type, read_standard, resolve_version_dir
from hrss_hub.standard.codelists import (
    CodeList,
    ContributionBounds,
    Divisions,
    bounds_from_doc,
    code_list_from_doc,
    divisions_from_doc,
)
from hrss_hub.standard.profile import PROFILE_FILE, ProfileInfo, base_root, is_profile, profile_info

__all__ = [
    "CodeList", "ContributionBounds", "Divisions", "Entity", "Field", "Rule", "Standard",
    "load_standard",
]


def _unknown(kind: str, value: str, valid: Iterable[str], **context: Any) -> StandardError:
    options = sorted(valid)
    close = difflib.get_close_matches(value, options, n=1)
    hint = (f"did you mean {close[0]!r}? " if close else "") + "valid: " + ", ".join(options)
    return StandardError(f"unknown {kind} {value!r}", context, hint)


@dataclass(frozen=True)
class Field:
    """One field (column) of an entity, or a lineage column."""

    name: str
    label_zh: str
    label_en: str
    type: str  # string | date | period | decimal(p,s) | integer | boolean | timestamp
    arrow_type: pa.DataType
    required: bool
    key: bool = False
    code_list: str | None = None
    identifier: str | None = None  # citizen_id | uscc | org_code
    pattern: str | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int | None = None
    description: str = ""
    example: str | None = None

    def arrow_field(self) -> pa.Field:
        """The Arrow field: nullable unless required."""
        return pa.field(self.name, self.arrow_type, nullable=not self.required)


@dataclass(frozen=True, eq=False)
class Rule(Mapping[str, object]):
    """A rule declared in an entity's ``rules:`` (a registered rule of
    :mod:`hrss_hub.quality.rules`); ``params`` are its parameters as written in the YAML
    (field names, and values such as a ``value_set``), checked by the standard checker.

    A rule is also a read-only mapping of ``id`` plus its parameters (``rule["id"]``,
    ``rule.get("start")``); ``description`` and ``severity`` (None: the rule's default) are
    attributes only.
    """

    id: str
    params: Mapping[str, object]
    description: str = ""
    severity: str | None = None

    def _items(self) -> dict[str, object]:
        return {"id": self.id, **self.params}

    def __getitem__(self, key: str) -> object:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return 1 + len(self.params)


@dataclass(frozen=True, eq=False)
class Entity:
    """An entity of the standard (person, employer, …) with its fields and rules."""

    name: str
    label_zh: str
    label_en: str
    description: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    lineage_fields: tuple[Field, ...] = ()

    def field(self, name: str) -> Field:
        """The field (or lineage column) called ``name``; StandardError listing valid names."""
        for f in (*self.fields, *self.lineage_fields):
            if f.name == name:
                return f
        raise _unknown(f"field of entity {self.name!r}", name,
                       [f.name for f in (*self.fields, *self.lineage_fields)], entity=self.name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the entity's own fields (lineage columns excluded), in order."""
        return tuple(f.name for f in self.fields)

    def rules_with_id(self, rule_id: str) -> tuple[Rule, ...]:
        """The entity's rules with this id."""
        return tuple(r for r in self.rules if r.id == rule_id)

    def arrow_schema(self, include_lineage: bool = True) -> pa.Schema:
        """The Arrow schema of the entity's records (lineage columns appended by default)."""
        fields = (*self.fields, *self.lineage_fields) if include_lineage else self.fields
        return pa.schema([f.arrow_field() for f in fields])


@dataclass(frozen=True, eq=False)
class Standard:
    """One loaded version of the unified data standard."""

    name: str
    version: str
    label_zh: str
    label_en: str
    description: str
    root: Path
    entities: Mapping[str, Entity]
    code_lists: Mapping[str, CodeList]
    divisions: Divisions
    contribution_bounds: ContributionBounds
    lineage_fields: tuple[Field, ...] = field(default=())
    #: the standard profile this is (``None``: a plain standard version); ``version`` is
    #: then ``<base version>+<profile id>.<profile version>``
    profile: ProfileInfo | None = None

    @property
    def base_version(self) -> str:
        """The version of the standard itself (a profile's base version)."""
        return self.profile.base_version if self.profile is not None else self.version

    def entity(self, name: str) -> Entity:
        """The entity called ``name``; StandardError listing the valid names."""
        try:
            return self.entities[name]
        except KeyError:
            raise _unknown("entity", name, self.entities, standard=str(self.root)) from None

    def code_list(self, name: str) -> CodeList:
        """The code list called ``name`` (``divisions`` included); StandardError if unknown."""
        try:
            return self.code_lists[name]
        except KeyError:
            raise _unknown("code list", name, self.code_lists, standard=str(self.root)) from None


# --------------------------------------------------------------------------- building


def _field(doc: Mapping[str, Any]) -> Field:
    arrow_type = parse_type(str(doc["type"]))
    assert arrow_type is not None  # guaranteed by the checker
    example = doc.get("example")
    return Field(
        name=str(doc["name"]), label_zh=str(doc["label_zh"]), label_en=str(doc["label_en"]),
        type=str(doc["type"]), arrow_type=arrow_type, required=bool(doc["required"]),
        key=bool(doc.get("key", False)), code_list=doc.get("code_list"),
        identifier=doc.get("identifier"), pattern=doc.get("pattern"),
        min=Decimal(str(doc["min"])) if "min" in doc else None,
        max=Decimal(str(doc["max"])) if "max" in doc else None,
        max_length=doc.get("max_length"), description=str(doc.get("description", "")),
        example=None if example is None else str(example),
    )


def _rule(doc: Mapping[str, Any]) -> Rule:
    params = {str(k): v for k, v in doc.items() if k not in ("id", "description", "severity")}
    severity = doc.get("severity")
    return Rule(id=str(doc["id"]), params=params, description=str(doc.get("description", "")),
                severity=None if severity is None else str(severity))


def _build(path: Path) -> Standard:
    raw, problems = read_standard(path)
    if problems:
        first = problems[0]
        raise StandardError(
            f"the standard has {len(problems)} problem(s):\n{format_problems(problems)}",
            {"file": first.file, "path": first.path or None, "line": first.line},
            "run `hrss-hub standard check --standard DIR` and fix every problem listed",
        )
    std = raw.standard
    lineage = tuple(_field(f) for f in std["lineage_fields"])
    entities = {
        name: Entity(
            name=name, label_zh=str(doc["label_zh"]), label_en=str(doc["label_en"]),
            description=str(doc["description"]), key=tuple(doc["key"]),
            fields=tuple(_field(f) for f in doc["fields"]),
            rules=tuple(_rule(r) for r in doc.get("rules") or ()), lineage_fields=lineage,
        )
        for name, (_, doc) in raw.entities.items()
    }
    assert raw.divisions is not None  # the checker reports a missing divisions file
    divisions = divisions_from_doc(raw.divisions[1])
    code_lists = {name: code_list_from_doc(doc) for name, (_, doc) in raw.code_lists.items()}
    code_lists["divisions"] = divisions.as_code_list()
    profile = profile_info(raw)
    return Standard(
        name=str(std["name"]),
        version=profile.standard_version if profile else str(std["version"]),
        label_zh=str(std["label_zh"]),
        label_en=str(std["label_en"]), description=str(std["description"]), root=raw.root,
        entities=entities, code_lists=dict(sorted(code_lists.items())), divisions=divisions,
        contribution_bounds=bounds_from_doc(raw.bounds[1] if raw.bounds else None),
        lineage_fields=lineage, profile=profile,
    )


_Signature = tuple[tuple[str, int, int], ...]
_CACHE: dict[Path, tuple[_Signature, Standard]] = {}


def _signature(root: Path) -> _Signature:
    """Names, sizes and mtimes of the YAML files: a cheap way to notice edits."""
    files = sorted(root.rglob("*.yaml")) if root.is_dir() else []
    if is_profile(root):  # a profile also changes when its base does
        from hrss_hub.standard.check import load_yaml

        doc = load_yaml(root / PROFILE_FILE, [])
        base = base_root(root, doc if isinstance(doc, dict) else {})
        files += sorted(base.rglob("*.yaml")) if base.is_dir() else []
    sig = []
    for f in files:
        st = f.stat()
        sig.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(sig)


def load_standard(path: Path | None = None) -> Standard:
    """Load and check a standard version (default: the bundled ``standards/v1``).

    ``path`` may be a version folder or a ``standards/`` folder (highest ``v<N>`` wins).
    Raises :class:`StandardError` listing every problem when the standard is invalid.
    """
    root = resolve_version_dir(path).resolve()
    sig = _signature(root)
    cached = _CACHE.get(root)
    if cached is not None and cached[0] == sig:
        return cached[1]
    standard = _build(root)
    _CACHE[root] = (sig, standard)
    return standard

"""Validate the files of the unified data standard and report every problem.

``check_standard`` never raises for bad content: it reads every YAML file of a standard
version, checks it against the expected shape and cross-references (code lists, fields
named by keys and rules, division parents, insurance types of the bounds table), and
returns one :class:`Problem` per finding. ``read_standard`` returns the parsed documents
as well, so :mod:`hrss_hub.standard.model` builds its objects only from checked input.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from hrss_hub.config import bundled_standards_dir
from hrss_hub.quality.rules import Rule, Scope, registry, validate_params
from hrss_hub.quality.rules.builtin.pattern_mismatch import regex_problem

#: keys of an entity's ``rules:`` entry besides the rule's own parameters
_RULE_KEYS = ("id", "description", "severity")
IDENTIFIERS = ("citizen_id", "uscc", "org_code")
LEVELS = ("province", "prefecture", "county")
SIMPLE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "date": pa.date32(),
    "period": pa.string(),  # YYYYMM, kept as text so it sorts and compares like the sources
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_DECIMAL_RE = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION_DIR_RE = re.compile(r"^v(\d+(?:\.\d+)*)$")


@dataclass(frozen=True)
class Problem:
    """One finding in a standard (or mapping) file: where it is and what is wrong."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def parse_type(text: str) -> pa.DataType | None:
    """Arrow type of a standard field type (``string``, ``decimal(18,2)`` …); None if invalid."""
    simple = SIMPLE_TYPES.get(text)
    if simple is not None:
        return simple
    m = _DECIMAL_RE.match(text)
    if m:
        precision, scale = int(m.group(1)), int(m.group(2))
        if 1 <= precision <= 38 and 0 <= scale <= precision:
            return pa.decimal128(precision, scale)
    return None


def type_kind(text: str) -> str:
    """The family of a field type: ``decimal(18,2)`` → ``decimal``, others unchanged."""
    return "decimal" if text.startswith("decimal") else text


# --------------------------------------------------------------------------- YAML reading


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers the (1-based) line of each of its keys."""

    lines: dict[Any, int]
    start_line: int


# libyaml's parser when available (several times faster); the constructor stays Python
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader recording key lines and duplicate keys (PyYAML silently keeps the last)."""

    duplicates: list[tuple[str, int, int]]


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    data = LineDict()
    data.lines = {}
    data.start_line = node.start_mark.line + 1
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            loader.duplicates.append((f"unhashable key {key!r}", line, line))
            continue
        if key in data:
            loader.duplicates.append((str(key), line, data.lines[key]))
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = line


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _line(mapping: Any, key: Any) -> int | None:
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, mapping.start_line)
    return None


# --------------------------------------------------------------------------- reading a version


@dataclass
class RawStandard:
    """The parsed YAML documents of one standard version (keyed by name), with their files."""

    root: Path
    standard: dict[str, Any] = field(default_factory=dict)
    entities: dict[str, tuple[Path, dict[str, Any]]] = field(default_factory=dict)
    code_lists: dict[str, tuple[Path, dict[str, Any]]] = field(default_factory=dict)
    divisions: tuple[Path, dict[str, Any]] | None = None
    bounds: tuple[Path, dict[str, Any]] | None = None
    #: a standard profile's own document (``profile.yaml``) and what it adds to its base
    profile: dict[str, Any] | None = None
    additions: dict[str, Any] = field(default_factory=dict)


def resolve_version_dir(path: Path | None = None) -> Path:
    """The version folder holding ``standard.yaml``.

    ``path`` may be a version folder (``standards/v1``) or the ``standards/`` folder, in
    which case the highest ``v<N>`` version inside it is used. Default: the bundled v1.
    Returns ``path`` itself when nothing better is found (the checker then reports it).
    """
    if path is None:
        return bundled_standards_dir() / "v1"
    path = Path(path)
    if (path / "standard.yaml").is_file() or not path.is_dir():
        return path
    versions: list[tuple[tuple[int, ...], Path]] = []
    for child in path.iterdir():
        m = _VERSION_DIR_RE.match(child.name)
        if m and (child / "standard.yaml").is_file():
            versions.append((tuple(int(p) for p in m.group(1).split(".")), child))
    return max(versions)[1] if versions else path


class _Reporter:
    """Collects problems for one file."""

    def __init__(self, problems: list[Problem], file: Path) -> None:
        self.problems = problems
        self.file = str(file)

    def add(self, path: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, path, message, line))


def _load_yaml(file: Path, problems: list[Problem]) -> Any:
    """Parse one YAML file; None (with a problem recorded) when it cannot be read."""
    rep = _Reporter(problems, file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        rep.add("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return None
    except OSError as exc:
        rep.add("", f"cannot read file: {exc.strerror}")
        return None
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        rep.add("", f"invalid YAML: {problem}", mark.line + 1 if mark is not None else None)
        return None
    finally:
        loader.dispose()
    for key, line, first in loader.duplicates:
        rep.add("", f"duplicate key {key!r} (first defined at line {first})", line)
    if not isinstance(data, dict):
        rep.add("", f"the document must be a mapping, got {_type_name(data)}", 1)
        return None
    return data


def read_standard(path: Path | None = None) -> tuple[RawStandard, list[Problem]]:
    """Parse and check every file of a standard version; returns the documents and problems.

    A folder with a ``profile.yaml`` is a *standard profile*: its base standard extended
    by the profile (:mod:`hrss_hub.standard.profile`), checked as one standard.
    """
    root = resolve_version_dir(path)
    from hrss_hub.standard.profile import PROFILE_FILE, read_profile

    if (root / PROFILE_FILE).is_file():
        return read_profile(root)
    raw, problems = read_raw(root)
    if (root / "standard.yaml").is_file():
        _Checker(raw, problems).run()
    return raw, problems


def read_raw(root: Path) -> tuple[RawStandard, list[Problem]]:
    """The documents of the standard version folder ``root``, unchecked (only problems of
    reading them: missing ``standard.yaml``, invalid YAML, unknown bounds tables)."""
    problems: list[Problem] = []
    raw = RawStandard(root=root)
    std_file = root / "standard.yaml"
    if not std_file.is_file():
        problems.append(Problem(str(root), "", "no standard.yaml here (nor in a v<N>/ folder "
                                "inside); pass the standards/ folder or a version folder"))
        return raw, problems
    std = _load_yaml(std_file, problems)
    if std is not None:
        raw.standard = std
    read_code_lists(root / "codelists", raw, problems)
    for file in sorted((root / "entities").glob("*.yaml")):
        doc = _load_yaml(file, problems)
        if doc is not None:
            raw.entities[file.stem] = (file, doc)
    bounds_dir = root / "bounds"
    for file in sorted(bounds_dir.glob("*.yaml")):
        if file.stem != "contribution_base":
            problems.append(Problem(str(file), "", "unknown bounds table; the only one "
                                    "is contribution_base.yaml"))
            continue
        doc = _load_yaml(file, problems)
        if doc is not None:
            raw.bounds = (file, doc)
    return raw, problems


def read_code_lists(folder: Path, raw: RawStandard, problems: list[Problem]) -> list[str]:
    """Add the code lists of ``folder`` to ``raw``; returns their names."""
    names = []
    for file in sorted(folder.glob("*.yaml")):
        doc = _load_yaml(file, problems)
        if doc is None:
            continue
        if file.stem == "divisions":
            raw.divisions = (file, doc)
        else:
            raw.code_lists[file.stem] = (file, doc)
        names.append(file.stem)
    return names


def run_checks(raw: RawStandard, problems: list[Problem]) -> None:
    """The cross-file checks of a read standard (appends to ``problems``)."""
    _Checker(raw, problems).run()


def load_yaml(file: Path, problems: list[Problem]) -> Any:
    """Parse one YAML file with key lines recorded (None, with a problem, if unreadable)."""
    return _load_yaml(file, problems)


def check_standard(path: Path | None = None) -> list[Problem]:
    """Every problem of the standard at ``path`` (default: the bundled one); [] if it is OK."""
    return read_standard(path)[1]


# --------------------------------------------------------------------------- shape checks

_Spec = dict[str, tuple[bool, tuple[type, ...]]]
_STR: tuple[type, ...] = (str,)
_NUM: tuple[type, ...] = (int, float, str)

_STANDARD_SPEC: _Spec = {
    "name": (True, _STR), "label_zh": (True, _STR), "label_en": (True, _STR),
    "version": (True, _STR), "description": (True, _STR), "lineage_fields": (True, (list,)),
}
_FIELD_SPEC: _Spec = {
    "name": (True, _STR), "label_zh": (True, _STR), "label_en": (True, _STR),
    "type": (True, _STR), "required": (True, (bool,)), "key": (False, (bool,)),
    "code_list": (False, _STR), "identifier": (False, _STR), "pattern": (False, _STR),
    "min": (False, _NUM), "max": (False, _NUM), "max_length": (False, (int,)),
    "description": (True, _STR), "example": (False, (str, int, float, bool)),
}
_ENTITY_SPEC: _Spec = {
    "name": (True, _STR), "label_zh": (True, _STR), "label_en": (True, _STR),
    "description": (True, _STR), "key": (True, (list,)), "fields": (True, (list,)),
    "rules": (False, (list,)),
}
_CODELIST_SPEC: _Spec = {
    "name": (True, _STR), "label_zh": (True, _STR), "label_en": (True, _STR),
    "code_system": (True, _STR), "version": (True, _STR), "description": (False, _STR),
    "codes": (True, (dict,)), "aliases": (False, (dict,)), "deprecated": (False, (list,)),
}
_CODE_SPEC: _Spec = {"zh": (True, _STR), "en": (True, _STR), "description": (False, _STR)}
_DIVISIONS_SPEC: _Spec = {
    "name": (True, _STR), "label_zh": (True, _STR), "label_en": (True, _STR),
    "code_system": (True, _STR), "version": (True, _STR), "description": (False, _STR),
    "divisions": (True, (list,)),
}
_DIVISION_SPEC: _Spec = {
    "code": (True, _STR), "name_zh": (True, _STR), "name_en": (False, _STR),
    "level": (True, _STR), "parent": (True, (str, type(None))),
    "valid_from": (False, (int, type(None))), "valid_to": (False, (int, type(None))),
}
_BOUNDS_SPEC: _Spec = {
    "name": (True, _STR), "label_zh": (True, _STR), "label_en": (True, _STR),
    "currency": (True, _STR), "unit": (True, _STR), "illustrative": (False, (bool,)),
    "description": (False, _STR), "rows": (True, (list,)),
}
_BOUND_ROW_SPEC: _Spec = {
    "division": (True, _STR), "year": (True, (int,)), "insurance_type": (True, _STR),
    "min": (True, _NUM), "max": (True, _NUM),
}

_TYPE_NAMES = {str: "a string", bool: "true/false", int: "an integer", float: "a number",
               list: "a list", dict: "a mapping", type(None): "null"}


def _type_name(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _check_shape(rep: _Reporter, data: Any, spec: _Spec, path: str,
                 line: int | None = None) -> bool:
    """Missing, unknown and wrongly typed keys of one mapping; False if it is no mapping."""
    if not isinstance(data, dict):
        rep.add(path, f"must be a mapping, got {_type_name(data)}", line)
        return False
    for key, (required, _types) in spec.items():
        if required and key not in data:
            rep.add(path, f"missing required key {key!r}", _line(data, key))
    for key, value in data.items():
        if key not in spec:
            close = difflib.get_close_matches(str(key), list(spec), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(spec)}"
            rep.add(_join(path, str(key)), f"unknown key {str(key)!r}{hint}", _line(data, key))
            continue
        types = spec[key][1]
        # bool is an int subclass in Python; YAML true must not pass for a number
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            hint = " (quote codes in YAML, e.g. \"01\")" if str in types and isinstance(
                value, int | float) else ""
            rep.add(_join(path, str(key)), f"must be {wanted}, got {_type_name(value)} "
                    f"{value!r}{hint}", _line(data, key))
    return True


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _str(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


class _Checker:
    """Cross-file checks over a :class:`RawStandard`."""

    def __init__(self, raw: RawStandard, problems: list[Problem]) -> None:
        self.raw = raw
        self.problems = problems
        self.code_list_names = set(raw.code_lists) | ({"divisions"} if raw.divisions else set())
        self.insurance_codes: set[str] | None = None

    def run(self) -> None:
        lineage = self._check_standard_file()
        for name, (file, doc) in self.raw.code_lists.items():
            self._check_code_list(_Reporter(self.problems, file), name, doc)
        division_codes: set[str] = set()
        if self.raw.divisions is None:
            self.problems.append(Problem(str(self.raw.root / "codelists" / "divisions.yaml"),
                                         "", "missing: the GB/T 2260 divisions are required"))
        else:
            file, doc = self.raw.divisions
            division_codes = self._check_divisions(_Reporter(self.problems, file), doc)
        if not self.raw.entities:
            self.problems.append(Problem(str(self.raw.root / "entities"), "",
                                         "no entity files (entities/<name>.yaml)"))
        for name, (file, doc) in self.raw.entities.items():
            self._check_entity(_Reporter(self.problems, file), name, doc, lineage)
        if self.raw.bounds is not None:
            file, doc = self.raw.bounds
            self._check_bounds(_Reporter(self.problems, file), doc, division_codes)

    # standard.yaml ------------------------------------------------------------------
    def _check_standard_file(self) -> set[str]:
        doc = self.raw.standard
        rep = _Reporter(self.problems, self.raw.root / "standard.yaml")
        if not doc:
            return set()
        _check_shape(rep, doc, _STANDARD_SPEC, "")
        version = _str(doc, "version")
        if version is not None and not re.match(r"^\d+\.\d+\.\d+$", version):
            rep.add("version", f"must look like 1.0.0, got {version!r}", _line(doc, "version"))
        fields = doc.get("lineage_fields")
        return self._check_fields(rep, fields, "lineage_fields", set()) if isinstance(
            fields, list) else set()

    # fields -------------------------------------------------------------------------
    def _check_fields(self, rep: _Reporter, fields: list[Any], path: str,
                      reserved: set[str]) -> set[str]:
        names: set[str] = set()
        for i, fdef in enumerate(fields):
            name = _str(fdef, "name")
            fpath = f"{path}[{name or i}]"
            if not _check_shape(rep, fdef, _FIELD_SPEC, fpath, None):
                continue
            if name is not None:
                if not _NAME_RE.match(name):
                    rep.add(_join(fpath, "name"), "field names are snake_case ASCII "
                            "(a-z, 0-9, _)", _line(fdef, "name"))
                if name in names:
                    rep.add(_join(fpath, "name"), f"duplicate field name {name!r}",
                            _line(fdef, "name"))
                if name in reserved:
                    rep.add(_join(fpath, "name"), f"{name!r} is a lineage column of "
                            "standard.yaml; rename the field", _line(fdef, "name"))
                names.add(name)
            self._check_field_details(rep, fdef, fpath)
        return names

    def _check_field_details(self, rep: _Reporter, fdef: dict[str, Any], fpath: str) -> None:
        ftype = _str(fdef, "type")
        if ftype is not None and parse_type(ftype) is None:
            close = difflib.get_close_matches(ftype, [*SIMPLE_TYPES, "decimal(18,2)"], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            rep.add(_join(fpath, "type"), f"unknown type {ftype!r}{hint}; valid: "
                    f"{', '.join(SIMPLE_TYPES)}, decimal(p,s)", _line(fdef, "type"))
        if fdef.get("key") is True and fdef.get("required") is not True:
            rep.add(_join(fpath, "required"), "a key field must be required: true",
                    _line(fdef, "key"))
        code_list = _str(fdef, "code_list")
        if code_list is not None and code_list not in self.code_list_names:
            close = difflib.get_close_matches(code_list, sorted(self.code_list_names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            rep.add(_join(fpath, "code_list"), f"unknown code list {code_list!r}{hint}",
                    _line(fdef, "code_list"))
        ident = _str(fdef, "identifier")
        if ident is not None and ident not in IDENTIFIERS:
            rep.add(_join(fpath, "identifier"), f"unknown identifier {ident!r}; valid: "
                    f"{', '.join(IDENTIFIERS)}", _line(fdef, "identifier"))
        pattern = _str(fdef, "pattern")
        problem = regex_problem(pattern) if pattern is not None else None
        if problem:
            rep.add(_join(fpath, "pattern"), problem, _line(fdef, "pattern"))
        kind = type_kind(ftype) if ftype else None
        bounds = {}
        for key in ("min", "max"):
            if key not in fdef:
                continue
            if kind not in ("decimal", "integer"):
                rep.add(_join(fpath, key), f"{key} applies to decimal and integer fields only",
                        _line(fdef, key))
            value = _as_decimal(fdef[key])
            if value is None:
                rep.add(_join(fpath, key), f"must be a number, got {fdef[key]!r}",
                        _line(fdef, key))
            else:
                bounds[key] = value
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            rep.add(_join(fpath, "min"), f"min {bounds['min']} is greater than max "
                    f"{bounds['max']}", _line(fdef, "min"))
        if "max_length" in fdef and kind != "string":
            rep.add(_join(fpath, "max_length"), "max_length applies to string fields only",
                    _line(fdef, "max_length"))

    # entities -----------------------------------------------------------------------
    def _check_entity(self, rep: _Reporter, stem: str, doc: dict[str, Any],
                      lineage: set[str]) -> None:
        _check_shape(rep, doc, _ENTITY_SPEC, "")
        name = _str(doc, "name")
        if name is not None and name != stem:
            rep.add("name", f"entity name {name!r} must match the file name {stem!r}",
                    _line(doc, "name"))
        fields = doc.get("fields")
        if not isinstance(fields, list):
            return
        if not fields:
            rep.add("fields", "an entity needs at least one field", _line(doc, "fields"))
        names = self._check_fields(rep, fields, "fields", lineage)
        types = {f["name"]: f["type"] for f in fields if isinstance(f, dict)
                 and isinstance(f.get("name"), str) and isinstance(f.get("type"), str)}
        flagged = {f["name"] for f in fields if isinstance(f, dict) and f.get("key") is True
                   and isinstance(f.get("name"), str)}
        key = doc.get("key")
        if isinstance(key, list):
            if not key:
                rep.add("key", "the entity key needs at least one field", _line(doc, "key"))
            for i, kname in enumerate(key):
                if not isinstance(kname, str) or kname not in names:
                    rep.add(f"key[{i}]", f"unknown field {kname!r} in the entity key"
                            + _did_you_mean(str(kname), names), _line(doc, "key"))
                elif kname not in flagged:
                    rep.add(f"key[{i}]", f"field {kname!r} is in the entity key but does not "
                            "say key: true", _line(doc, "key"))
            for fname in sorted(flagged - {k for k in key if isinstance(k, str)}):
                rep.add(f"fields[{fname}].key", f"field {fname!r} says key: true but is not "
                        "in the entity key", _line(doc, "key"))
        rules = doc.get("rules")
        if isinstance(rules, list):
            scope = self._scope(stem, {n: t for n, t in types.items() if n in names})
            for i, rule in enumerate(rules):
                self._check_rule(rep, rule, f"rules[{i}]", scope)

    def _scope(self, entity: str, types: Mapping[str, str]) -> Scope:
        """What a rule declared by ``entity`` is checked against (from the raw documents)."""
        versions = {name: str(doc.get("version", "")) for name, (_, doc)
                    in self.raw.code_lists.items()}
        if self.raw.divisions is not None:
            versions["divisions"] = str(self.raw.divisions[1].get("version", ""))
        entities = {name: frozenset(f["name"] for f in doc.get("fields") or []
                                    if isinstance(f, dict) and isinstance(f.get("name"), str))
                    for name, (_, doc) in self.raw.entities.items()}
        return Scope(entity, types, versions, entities)

    def _check_rule(self, rep: _Reporter, rule: Any, path: str, scope: Scope) -> None:
        """One ``rules:`` entry: a declarable registered rule with valid parameters."""
        if not isinstance(rule, dict):
            rep.add(path, f"must be a mapping, got {_type_name(rule)}")
            return
        rid = rule.get("id")
        if not isinstance(rid, str):
            rep.add(_join(path, "id"), "missing rule id" if rid is None else
                    f"must be a string, got {rid!r}", _line(rule, "id"))
            return
        reg = registry()
        declarable = [r.id for r in reg.declarable()]
        found = reg.find(rid)
        if found is None:
            rep.add(_join(path, "id"), f"unknown rule {rid!r}" + _did_you_mean(
                rid, reg.ids()) + f"; declarable rules: {', '.join(declarable)}",
                _line(rule, "id"))
            return
        if not isinstance(found, Rule) or not found.declarable:
            rep.add(_join(path, "id"), f"rule {rid!r} is not declared in rules: but by "
                    f"{found.declared_by}; declarable rules: {', '.join(declarable)}",
                    _line(rule, "id"))
            return
        severity = rule.get("severity")
        if severity is not None and severity not in found.severities:
            rep.add(_join(path, "severity"), f"severity {severity!r} is not possible for rule "
                    f"{rid!r}; valid: {', '.join(found.severities)}", _line(rule, "severity"))
        if "description" in rule and not isinstance(rule["description"], str):
            rep.add(_join(path, "description"), "must be a string", _line(rule, "description"))
        raw = {str(k): v for k, v in rule.items() if k not in _RULE_KEYS}
        _, problems = validate_params(found, raw, scope)
        for problem in problems:
            key = problem.param
            rep.add(_join(path, key) if key else path, problem.message,
                    _line(rule, key) if key in rule else _line(rule, "id"))

    # code lists ---------------------------------------------------------------------
    def _check_code_list(self, rep: _Reporter, stem: str, doc: dict[str, Any]) -> None:
        _check_shape(rep, doc, _CODELIST_SPEC, "")
        name = _str(doc, "name")
        if name is not None and name != stem:
            rep.add("name", f"code list name {name!r} must match the file name {stem!r}",
                    _line(doc, "name"))
        codes = doc.get("codes")
        if not isinstance(codes, dict):
            return
        if not codes:
            rep.add("codes", "a code list needs at least one code", _line(doc, "codes"))
        valid: set[str] = set()
        zh_labels: dict[str, str] = {}
        for code, labels in codes.items():
            cpath = f"codes.{code}"
            if not isinstance(code, str):
                rep.add(cpath, f"code {code!r} must be a string: quote it in YAML "
                        f"(e.g. \"{code}\") so leading zeros survive", _line(codes, code))
                continue
            valid.add(code)
            if _check_shape(rep, labels, _CODE_SPEC, cpath, _line(codes, code)):
                zh = _str(labels, "zh")
                if zh is not None:
                    zh_labels.setdefault(zh, code)
        aliases = doc.get("aliases")
        if isinstance(aliases, dict):
            for alias, target in aliases.items():
                apath = f"aliases.{alias}"
                line = _line(aliases, alias)
                if not isinstance(alias, str):
                    rep.add(apath, f"alias {alias!r} must be a string: quote it in YAML", line)
                elif alias in valid:
                    rep.add(apath, f"alias {alias!r} shadows the code of the same name", line)
                elif alias in zh_labels and zh_labels[alias] != target:
                    rep.add(apath, f"alias {alias!r} is also the label of code "
                            f"{zh_labels[alias]!r}", line)
                if not isinstance(target, str) or target not in valid:
                    rep.add(apath, f"alias points at unknown code {target!r}"
                            + _did_you_mean(str(target), valid), line)
        deprecated = doc.get("deprecated")
        if isinstance(deprecated, list):
            for i, code in enumerate(deprecated):
                if not isinstance(code, str) or code not in valid:
                    rep.add(f"deprecated[{i}]", f"deprecated code {code!r} is not in codes",
                            _line(doc, "deprecated"))

    # divisions ----------------------------------------------------------------------
    def _check_divisions(self, rep: _Reporter, doc: dict[str, Any]) -> set[str]:
        _check_shape(rep, doc, _DIVISIONS_SPEC, "")
        if _str(doc, "name") not in (None, "divisions"):
            rep.add("name", "the divisions file must be named 'divisions'", _line(doc, "name"))
        rows = doc.get("divisions")
        if not isinstance(rows, list):
            return set()
        ok: list[tuple[int, dict[str, Any]]] = []
        for i, row in enumerate(rows):
            path = f"divisions[{_str(row, 'code') or i}]"
            if not _check_shape(rep, row, _DIVISION_SPEC, path):
                continue
            code = _str(row, "code")
            if code is None:
                continue
            line = _line(row, "code")
            if not re.match(r"^\d{6}$", code):
                rep.add(_join(path, "code"), f"a GB/T 2260 code has 6 digits, got {code!r}", line)
                continue
            level = _str(row, "level")
            if level is not None and level not in LEVELS:
                rep.add(_join(path, "level"), f"unknown level {level!r}; valid: "
                        f"{', '.join(LEVELS)}", _line(row, "level"))
            vf, vt = row.get("valid_from"), row.get("valid_to")
            if isinstance(vf, int) and isinstance(vt, int) and vf > vt:
                rep.add(_join(path, "valid_from"), f"valid_from {vf} is after valid_to {vt}",
                        _line(row, "valid_from"))
            ok.append((i, row))
        by_code: dict[str, list[dict[str, Any]]] = {}
        for _, row in ok:
            by_code.setdefault(row["code"], []).append(row)
        for code, same in by_code.items():
            # a reused code is fine as long as its periods do not overlap
            spans = sorted((r.get("valid_from") or 0, r.get("valid_to") or 9999) for r in same)
            if any(a[1] >= b[0] for a, b in itertools.pairwise(spans)):
                rep.add(f"divisions[{code}]", f"duplicate division code {code!r} with "
                        "overlapping validity", _line(same[-1], "code"))
        for _, row in ok:
            self._check_division_parent(rep, row, by_code)
        return set(by_code)

    @staticmethod
    def _check_division_parent(rep: _Reporter, row: dict[str, Any],
                               by_code: Mapping[str, list[dict[str, Any]]]) -> None:
        code, level, parent = row["code"], row.get("level"), row.get("parent")
        path = f"divisions[{code}].parent"
        line = _line(row, "parent")
        if level == "province":
            if parent is not None:
                rep.add(path, "a province has no parent (parent: null)", line)
            if not code.endswith("0000"):
                rep.add(f"divisions[{code}].code", "a province code ends in 0000", line)
            return
        if not isinstance(parent, str):
            rep.add(path, f"a {level} needs the code of its parent", line)
            return
        if parent not in by_code:
            rep.add(path, f"parent {parent!r} is not a division in this file", line)
            return
        if parent[:2] != code[:2]:
            rep.add(path, f"parent {parent!r} is in another province than {code!r}", line)
        parent_level = by_code[parent][0].get("level")
        wanted = {"prefecture": ("province",), "county": ("prefecture", "province")}
        if level in wanted and parent_level not in wanted[level]:
            rep.add(path, f"parent {parent!r} is a {parent_level}; a {level}'s parent must be "
                    f"a {' or '.join(wanted[level])}", line)

    # bounds -------------------------------------------------------------------------
    def _check_bounds(self, rep: _Reporter, doc: dict[str, Any], divisions: set[str]) -> None:
        _check_shape(rep, doc, _BOUNDS_SPEC, "")
        rows = doc.get("rows")
        if not isinstance(rows, list):
            return
        insurance = self._codes_of("insurance_type")
        seen: dict[tuple[str, int, str], int] = {}
        for i, row in enumerate(rows):
            path = f"rows[{i}]"
            if not _check_shape(rep, row, _BOUND_ROW_SPEC, path):
                continue
            line = _line(row, "division")
            division, year, itype = row.get("division"), row.get("year"), row.get(
                "insurance_type")
            if isinstance(division, str) and divisions and division not in divisions:
                rep.add(_join(path, "division"), f"unknown division {division!r} (not in "
                        "codelists/divisions.yaml)", line)
            if isinstance(itype, str) and insurance is not None and itype not in insurance:
                rep.add(_join(path, "insurance_type"), f"unknown insurance type {itype!r}"
                        + _did_you_mean(itype, insurance), _line(row, "insurance_type"))
            lo, hi = _as_decimal(row.get("min")), _as_decimal(row.get("max"))
            for key, value in (("min", lo), ("max", hi)):
                if key in row and value is None:
                    rep.add(_join(path, key), f"must be a number, got {row[key]!r}",
                            _line(row, key))
                elif value is not None and value < 0:
                    rep.add(_join(path, key), f"must not be negative, got {value}",
                            _line(row, key))
            if lo is not None and hi is not None and lo > hi:
                rep.add(_join(path, "min"), f"min {lo} is greater than max {hi}",
                        _line(row, "min"))
            if isinstance(division, str) and isinstance(year, int) and isinstance(itype, str):
                ident = (division, year, itype)
                if ident in seen:
                    rep.add(path, f"duplicate row for division {division}, year {year}, "
                            f"insurance type {itype} (first: rows[{seen[ident]}])", line)
                else:
                    seen[ident] = i

    def _codes_of(self, name: str) -> set[str] | None:
        entry = self.raw.code_lists.get(name)
        codes = entry[1].get("codes") if entry else None
        return {c for c in codes if isinstance(c, str)} if isinstance(codes, dict) else None


def _did_you_mean(value: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_problems(problems: Iterable[Problem], limit: int | None = None) -> str:
    """One problem per line (all of them unless ``limit``)."""
    items = list(problems)
    shown = items if limit is None else items[:limit]
    text = "\n".join(f"  {p}" for p in shown)
    if limit is not None and len(items) > limit:
        text += f"\n  … and {len(items) - limit} more"
    return text


"""Standard profiles: a workspace extends the bundled standard without copying it.

A county that needs local codes (e.g. its employment-subsidy types) writes a *profile*
folder and points ``hub.yaml``'s ``standard:`` at it::

    standard-profile/
      profile.yaml            # id, version, what it extends, extra codes / aliases / fields
      codelists/*.yaml        # new code lists (same form as the standard's own)

``profile.yaml``::

    profile: wuhou-county              # the profile's id (lower case, digits, '-')
    version: 1.0.0                     # the profile's own version
    label_zh: 武侯区人社数据标准扩展
    label_en: Wuhou district profile
    extends: bundled                   # the bundled standard (default), v1, or a folder
    base_version: 1.0.0                # optional: refuse another base version
    codes:                             # extra codes of the base's code lists
      insurance_type:
        "610": {zh: 县级就业补贴, en: County employment subsidy}
    aliases:                           # extra input aliases
      insurance_type: {就业补贴: "610"}
    fields:                            # extra *optional* fields of the base's entities
      benefit_payment:
        - {name: subsidy_type, label_zh: 补贴类型, label_en: Subsidy type, type: string,
           required: false, code_list: subsidy_type, description: 县级就业补贴类型}

A profile only *adds*: it cannot redefine a code, a field or a code list of its base, and
its fields are optional and never part of an entity key — so every record valid under the
base stays valid, and a recipient that knows only the base reads profile data unchanged.
The merged standard is checked as one (a new field's ``code_list`` must exist, an alias
must point at a code …); problems in what the profile adds name ``profile.yaml`` (or the
profile's code-list file), never the base's files.

The loaded standard's version is ``<base version>+<profile id>.<profile version>`` (SemVer
build metadata, e.g. ``1.0.0+wuhou-county.1.0.0``): manifests, the catalog, generated
suites and the data dictionary all say which profile the data follows;
:attr:`hrss_hub.standard.model.Standard.profile` holds the details and
:func:`differences` what ``hrss-hub standard check`` reports against the base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hrss_hub.config import bundled_standards_dir

#: the file that makes a folder a standard profile
PROFILE_FILE = "profile.yaml"

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_KEYS = {"profile": True, "version": True, "label_zh": True, "label_en": True,
         "description": False, "extends": False, "base_version": False, "codes": False,
         "aliases": False, "fields": False}


@dataclass(frozen=True)
class ProfileInfo:
    """Who a profile is, what it extends, and what it adds to its base."""

    id: str
    version: str
    label_zh: str
    label_en: str
    description: str
    base_name: str
    base_version: str
    base_root: Path
    #: code list → codes added to it
    codes: dict[str, list[str]] = field(default_factory=dict)
    #: code list → aliases added to it
    aliases: dict[str, list[str]] = field(default_factory=dict)
    #: code lists the profile defines
    code_lists: list[str] = field(default_factory=list)
    #: entity → optional fields added to it
    fields: dict[str, list[str]] = field(default_factory=dict)

    @property
    def standard_version(self) -> str:
        """The merged standard's version: ``<base>+<id>.<version>``."""
        return f"{self.base_version}+{self.id}.{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (manifests' readers, ``standard check --json``)."""
        return {"id": self.id, "version": self.version, "label_zh": self.label_zh,
                "label_en": self.label_en,
                "base": {"name": self.base_name, "version": self.base_version},
                "adds": {"codes": self.codes, "aliases": self.aliases,
                         "code_lists": self.code_lists, "fields": self.fields}}


def is_profile(root: Path) -> bool:
    """Whether ``root`` is a standard-profile folder."""
    return (root / PROFILE_FILE).is_file()


def base_root(root: Path, doc: dict[str, Any]) -> Path:
    """The base standard's version folder named by ``extends`` (relative to ``root``)."""
    from hrss_hub.standard.check import resolve_version_dir

    extends = str(doc.get("extends") or "bundled")
    if extends == "bundled":
        return resolve_version_dir(None)
    bundled = bundled_standards_dir() / extends
    if re.match(r"^v\d+(\.\d+)*$", extends) and bundled.is_dir():
        return bundled
    return resolve_version_dir((root / extends).resolve())


def read_profile(root: Path) -> tuple[Any, list[Any]]:
    """The merged documents of the profile at ``root`` and every problem found.

    Returns ``(RawStandard, problems)`` like :func:`hrss_hub.standard.check.read_standard`;
    the raw standard's ``profile`` is the profile document, ``additions`` what it added.
    """
    from hrss_hub.standard import check as chk

    file = root / PROFILE_FILE
    problems: list[chk.Problem] = []
    doc = chk.load_yaml(file, problems)
    if doc is None:
        return chk.RawStandard(root=root), problems
    rep = _Rep(problems, file)
    _check_header(rep, doc)
    base = base_root(root, doc)
    if is_profile(base):
        rep.add("extends", f"{base} is a profile itself; a profile extends a standard "
                "version folder (profiles do not stack)", chk._line(doc, "extends"))
        return chk.RawStandard(root=root), problems
    raw, base_problems = chk.read_raw(base)
    if not base_problems:
        chk.run_checks(raw, base_problems)
    if base_problems:
        rep.add("extends", f"the base standard {base} has {len(base_problems)} problem(s); "
                f"run `hrss-hub standard check --standard {base}`", chk._line(doc, "extends"))
        return raw, problems + base_problems
    pinned = doc.get("base_version")
    actual = str(raw.standard.get("version", ""))
    if pinned is not None and str(pinned) != actual:
        rep.add("base_version", f"the profile was written for base {pinned}, but {base} is "
                f"{actual}: review the profile against the new base, then set "
                f"base_version: {actual}", chk._line(doc, "base_version"))
    if str(doc.get("profile", "")) == str(raw.standard.get("name", "")):
        rep.add("profile", "a profile needs its own id, not the base standard's name",
                chk._line(doc, "profile"))
    raw.root = root
    raw.profile = doc
    additions = _merge(rep, raw, doc, root, problems)
    raw.additions = {**additions, "base_root": base, "base_name": raw.standard.get("name"),
                     "base_version": actual}
    if problems:
        return raw, problems
    merged: list[chk.Problem] = []
    chk.run_checks(raw, merged)
    problems.extend(_attribute(p, additions, file) for p in merged)
    return raw, problems


class _Rep:
    """Problems of ``profile.yaml`` (the checker's reporter, for this module)."""

    def __init__(self, problems: list[Any], file: Path) -> None:
        self.problems = problems
        self.file = str(file)

    def add(self, path: str, message: str, line: int | None = None) -> None:
        from hrss_hub.standard.check import Problem

        self.problems.append(Problem(self.file, path, message, line))


def _check_header(rep: _Rep, doc: dict[str, Any]) -> None:
    from hrss_hub.standard.check import _did_you_mean, _line

    for key in doc:
        if key not in _KEYS:
            rep.add(str(key), f"unknown key {key!r}" + _did_you_mean(str(key), _KEYS),
                    _line(doc, key))
    for key, required in _KEYS.items():
        if required and key not in doc:
            rep.add(key, "required", None)
    for key in ("profile", "version", "label_zh", "label_en", "description", "extends",
                "base_version"):
        if key in doc and not isinstance(doc[key], str):
            rep.add(key, "must be a string (quote numbers: version: \"1.0.0\")",
                    _line(doc, key))
    pid = doc.get("profile")
    if isinstance(pid, str) and not _ID_RE.match(pid):
        rep.add("profile", f"a profile id is lower-case letters, digits and '-', got {pid!r}",
                _line(doc, "profile"))
    version = doc.get("version")
    if isinstance(version, str) and not _VERSION_RE.match(version):
        rep.add("version", f"must look like 1.0.0, got {version!r}", _line(doc, "version"))
    for key in ("codes", "aliases", "fields"):
        if key in doc and not isinstance(doc[key], dict):
            rep.add(key, "must be a mapping (code list or entity → …)", _line(doc, key))


def _merge(rep: _Rep, raw: Any, doc: dict[str, Any], root: Path,
           problems: list[Any]) -> dict[str, Any]:
    """Apply the profile to the base's documents; returns what it added."""
    from hrss_hub.standard import check as chk

    added: dict[str, Any] = {"codes": {}, "aliases": {}, "code_lists": [], "fields": {},
                             "code_list_files": {}}
    base_lists = set(raw.code_lists) | {"divisions"}
    own = chk.RawStandard(root=root)
    for name in chk.read_code_lists(root / "codelists", own, problems):
        path = (own.divisions or (root, {}))[0] if name == "divisions" else \
            own.code_lists[name][0]
        if name in base_lists:
            problems.append(chk.Problem(str(path), "", f"code list {name!r} exists in the "
                                        f"base standard; add codes to it under codes.{name}"
                                        " in profile.yaml instead of redefining it"))
            continue
        raw.code_lists[name] = own.code_lists[name]
        added["code_lists"].append(name)
    for list_name, extra in (doc.get("codes") or {}).items() if isinstance(
            doc.get("codes"), dict) else ():
        target = _code_list(rep, raw, "codes", str(list_name), doc["codes"])
        if target is None or not _mapping(rep, f"codes.{list_name}", extra, doc["codes"],
                                          list_name):
            continue
        codes = target.setdefault("codes", {})
        for code, labels in extra.items():
            if str(code) in {str(c) for c in codes}:
                rep.add(f"codes.{list_name}.{code}", f"code {code!r} is already in "
                        f"{list_name}; a profile adds codes, it does not redefine them",
                        chk._line(extra, code))
                continue
            codes[code] = labels
            added["codes"].setdefault(str(list_name), []).append(str(code))
    for list_name, extra in (doc.get("aliases") or {}).items() if isinstance(
            doc.get("aliases"), dict) else ():
        target = _code_list(rep, raw, "aliases", str(list_name), doc["aliases"])
        if target is None or not _mapping(rep, f"aliases.{list_name}", extra, doc["aliases"],
                                          list_name):
            continue
        aliases = target.get("aliases")
        if not isinstance(aliases, dict):
            aliases = target["aliases"] = chk.LineDict()
            aliases.lines, aliases.start_line = {}, 1
        for alias, code in extra.items():
            if alias in aliases:
                rep.add(f"aliases.{list_name}.{alias}", f"alias {alias!r} already maps to "
                        f"{aliases[alias]!r} in {list_name}", chk._line(extra, alias))
                continue
            aliases[alias] = code
            if isinstance(aliases, chk.LineDict) and isinstance(extra, chk.LineDict):
                aliases.lines[alias] = extra.lines.get(alias, extra.start_line)
            added["aliases"].setdefault(str(list_name), []).append(str(alias))
    _merge_fields(rep, raw, doc, added)
    return added


def _code_list(rep: _Rep, raw: Any, key: str, name: str,
               section: dict[str, Any]) -> dict[str, Any] | None:
    from hrss_hub.standard.check import _did_you_mean, _line

    found = raw.code_lists.get(name)
    if found is None:
        rep.add(f"{key}.{name}", f"unknown code list {name!r}"
                + _did_you_mean(name, raw.code_lists), _line(section, name))
        return None
    doc: dict[str, Any] = found[1]
    return doc


def _mapping(rep: _Rep, path: str, value: Any, parent: dict[str, Any], key: Any) -> bool:
    from hrss_hub.standard.check import _line

    if isinstance(value, dict):
        return True
    rep.add(path, "must be a mapping", _line(parent, key))
    return False


def _merge_fields(rep: _Rep, raw: Any, doc: dict[str, Any], added: dict[str, Any]) -> None:
    from hrss_hub.standard.check import _did_you_mean, _line

    section = doc.get("fields")
    if not isinstance(section, dict):
        return
    for entity, defs in section.items():
        found = raw.entities.get(str(entity))
        if found is None:
            rep.add(f"fields.{entity}", f"unknown entity {entity!r}"
                    + _did_you_mean(str(entity), raw.entities), _line(section, entity))
            continue
        if not isinstance(defs, list):
            rep.add(f"fields.{entity}", "must be a list of field definitions",
                    _line(section, entity))
            continue
        target = found[1].setdefault("fields", [])
        existing = {f.get("name") for f in target if isinstance(f, dict)}
        lineage = {f.get("name") for f in raw.standard.get("lineage_fields") or []
                   if isinstance(f, dict)}
        for i, fdef in enumerate(defs):
            name = fdef.get("name") if isinstance(fdef, dict) else None
            fpath = f"fields.{entity}[{name or i}]"
            if not isinstance(fdef, dict):
                rep.add(fpath, "a field definition is a mapping", _line(section, entity))
                continue
            if name in existing or name in lineage:
                rep.add(f"{fpath}.name", f"{entity} already has a field {name!r}; a profile "
                        "adds fields, it does not redefine them", _line(fdef, "name"))
                continue
            if fdef.get("required") is not False:
                rep.add(f"{fpath}.required", "a profile's field must be optional "
                        "(required: false): data valid under the base must stay valid",
                        _line(fdef, "required"))
                continue
            if fdef.get("key"):
                rep.add(f"{fpath}.key", "a profile cannot change an entity's key",
                        _line(fdef, "key"))
                continue
            target.append(fdef)
            existing.add(name)
            added["fields"].setdefault(str(entity), []).append(str(name))


def _attribute(problem: Any, added: dict[str, Any], file: Path) -> Any:
    """A merged-standard problem about something the profile added names profile.yaml."""
    from dataclasses import replace

    stem = Path(problem.file).stem
    kind = Path(problem.file).parent.name
    path = str(problem.path)
    if kind == "entities":
        for name in added["fields"].get(stem, []):
            prefix = f"fields[{name}]"
            if path.startswith(prefix):
                return replace(problem, file=str(file),
                               path=f"fields.{stem}[{name}]" + path[len(prefix):])
    if kind == "codelists" and stem not in added["code_lists"]:
        for code in added["codes"].get(stem, []):
            prefix = f"codes.{code}"
            if path == prefix or path.startswith(prefix + "."):
                return replace(problem, file=str(file), path=f"codes.{stem}.{path[6:]}")
        for alias in added["aliases"].get(stem, []):
            prefix = f"aliases.{alias}"
            if path == prefix or path.startswith(prefix + "."):
                return replace(problem, file=str(file), path=f"aliases.{stem}.{path[8:]}")
    return problem


def profile_info(raw: Any) -> ProfileInfo | None:
    """The :class:`ProfileInfo` of a read profile (``None`` for a plain standard)."""
    doc = raw.profile
    if doc is None:
        return None
    add = raw.additions
    return ProfileInfo(
        id=str(doc["profile"]), version=str(doc["version"]), label_zh=str(doc["label_zh"]),
        label_en=str(doc["label_en"]), description=str(doc.get("description", "")),
        base_name=str(add["base_name"]), base_version=str(add["base_version"]),
        base_root=Path(add["base_root"]), codes=dict(add["codes"]),
        aliases=dict(add["aliases"]), code_lists=list(add["code_lists"]),
        fields=dict(add["fields"]))


def differences(info: ProfileInfo) -> list[str]:
    """One line per thing the profile adds to its base (``hrss-hub standard check``)."""
    lines = []
    for name in info.code_lists:
        lines.append(f"+ code list {name}")
    for name, codes in sorted(info.codes.items()):
        lines.append(f"+ {len(codes)} code(s) in {name}: {', '.join(codes)}")
    for name, aliases in sorted(info.aliases.items()):
        lines.append(f"+ {len(aliases)} alias(es) in {name}: {', '.join(aliases)}")
    for entity, names in sorted(info.fields.items()):
        lines.append(f"+ optional field(s) of {entity}: {', '.join(names)}")
    return lines

"""Reading a YAML file while remembering where every value came from.

PyYAML's ``safe_load`` forgets line numbers. Here the file is *composed* into nodes (which
carry marks) and the nodes are turned into plain Python values by hand, recording for every
YAML path (``("streams", 1, "cursor")``) the line of its key and of its value. A validation
error can then say ``line 12, streams[1].cursor`` instead of only the path.

Duplicate keys (which ``safe_load`` silently resolves to the last one) are reported as
problems of the document, so a copy-pasted key never hides a setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hrss_hub.config.problems import ConfigProblems, Problem

#: a position inside a document: mapping keys and list indices
Loc = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml


@dataclass
class YamlDoc:
    """A parsed YAML file: its data, and the line of every value in it."""

    file: Path
    data: Any
    #: line (1-based) of each mapping key / list item, by location
    key_lines: dict[Loc, int] = field(default_factory=dict)
    #: line (1-based) where each value starts, by location
    value_lines: dict[Loc, int] = field(default_factory=dict)
    #: problems found while reading (duplicate keys)
    problems: list[Problem] = field(default_factory=list)

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc``; the nearest enclosing value's line when it is absent."""
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            if prefix in self.key_lines:
                return self.key_lines[prefix]
            if prefix in self.value_lines:
                return self.value_lines[prefix]
        return None

    def get(self, loc: Loc) -> Any:
        """The value at ``loc`` (``None`` when any step is missing)."""
        node = self.data
        for part in loc:
            found = (isinstance(node, Mapping) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
            if found:
                node = node[part]
            else:
                return None
        return node


def parse_yaml(text: str, file: Path) -> YamlDoc:
    """Parse ``text`` (the content of ``file``); invalid YAML raises :class:`ConfigProblems`."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigProblems.of(Problem(
            file=str(file), line=mark.line + 1 if mark is not None else None, path="",
            message=f"not valid YAML: {problem}",
            hint="check the indentation and quoting near that line")) from None
    doc = YamlDoc(file=file, data=None)
    if root is not None:
        builder = _Builder(doc, _Loader(""))
        doc.value_lines[()] = root.start_mark.line + 1
        doc.data = builder.value(root, ())
    return doc


def read_yaml(path: Path, what: str) -> YamlDoc:
    """Read and parse one YAML file; ``what`` names it in errors (``"connector file"``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigProblems.of(Problem(str(path), None, "", f"{what} not found")) from None
    except IsADirectoryError:
        raise ConfigProblems.of(Problem(str(path), None, "",
                                        f"{what} is a folder, not a file")) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigProblems.of(Problem(str(path), line, "", f"{what} is not UTF-8",
                                        "save the YAML as UTF-8")) from None
    except OSError as exc:
        raise ConfigProblems.of(Problem(str(path), None, "",
                                        f"cannot read the {what}: {exc.strerror}")) from None
    return parse_yaml(text, path)


class _Builder:
    """Turns composed nodes into Python values, recording lines."""

    def __init__(self, doc: YamlDoc, loader: yaml.SafeLoader) -> None:
        self.doc = doc
        self.loader = loader
        self._active: set[int] = set()  # node ids on the current path (recursive aliases)

    def value(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.value_lines.setdefault(loc, node.start_mark.line + 1)
        if id(node) in self._active:
            self.doc.problems.append(Problem(str(self.doc.file), node.start_mark.line + 1,
                                             format_loc(loc), "recursive YAML alias"))
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                return [self._item(child, (*loc, i)) for i, child in enumerate(node.value)]
            try:
                return self.loader.construct_object(node, deep=True)
            except ValueError:
                # looks like a date or number but is none (2027-02-30): keep the text, so the
                # model says what it expected there
                return node.value
        finally:
            self._active.discard(id(node))

    def _item(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.key_lines.setdefault(loc, node.start_mark.line + 1)
        return self.value(node, loc)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            raw_key = self.loader.construct_object(key_node, deep=True)
            key = str(raw_key)
            line = key_node.start_mark.line + 1
            if key in out:
                self.doc.problems.append(Problem(
                    str(self.doc.file), line, format_loc((*loc, key)),
                    f"key {key!r} appears twice (first on line {first_line[key]})",
                    "YAML keeps only the last one: remove or merge the other"))
            first_line.setdefault(key, line)
            child = (*loc, key)
            self.doc.key_lines[child] = line
            self.doc.value_lines.pop(child, None)
            out[key] = self.value(value_node, child)
        return out


def parse_path(path: str) -> Loc:
    """``streams[1].cursor`` → ``("streams", 1, "cursor")`` (the inverse of
    :func:`format_loc` for keys without dots or brackets)."""
    loc: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            loc.append(name)
        for index in rest.replace("]", "").split("[") if rest else ():
            loc.append(int(index) if index.isdigit() else index)
    return tuple(loc)


def format_loc(loc: Loc) -> str:
    """``("streams", 1, "cursor")`` → ``streams[1].cursor``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text

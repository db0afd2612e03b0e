"""Validating a parsed YAML document against a pydantic model, reporting every problem.

pydantic reports every error of a document in one ``ValidationError``; this module turns each
into a :class:`~hrss_hub.config.problems.Problem` a person can act on: the file, the line
(from the YAML marks), the YAML path without pydantic's internals (union tags), a message in
our words, and — for unknown keys and choices — the valid values with a did-you-mean.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hrss_hub.config.model import FileModel
from hrss_hub.config.problems import ConfigProblems, Problem, did_you_mean
from hrss_hub.config.yamldoc import Loc, YamlDoc, format_loc

M = TypeVar("M", bound=BaseModel)

_QUOTED = re.compile(r"'([^']*)'")


def validate_doc(model: type[M], doc: YamlDoc, *, system: str | None = None,
                 context: Mapping[str, Any] | None = None) -> M:
    """``model`` validated from ``doc.data``; every problem (including the document's own,
    e.g. duplicate keys) raised together as :class:`ConfigProblems`."""
    problems = [Problem(p.file, p.line, p.path, p.message, p.hint, system)
                for p in doc.problems]
    result: M | None = None
    try:
        result = model.model_validate(doc.data if doc.data is not None else {},
                                      context=dict(context or {}))
    except ValidationError as exc:
        problems.extend(problems_from(exc, model, doc, system=system))
    if problems:
        raise ConfigProblems.collect(_sorted(problems))
    assert result is not None
    return result


def problems_from(exc: ValidationError, model: type[BaseModel], doc: YamlDoc, *,
                  system: str | None = None, prefix: str = "") -> list[Problem]:
    """One :class:`Problem` per error of ``exc`` (raised validating ``doc`` as ``model``);
    ``prefix``: the YAML path of ``doc.data`` inside its file, when it is a part of one."""
    out = []
    for err in exc.errors(include_url=False):
        walk = _walk(model, tuple(err["loc"]), doc.data)
        loc = walk.loc
        message, hint = _describe(err, walk)
        path = format_loc(loc)
        if prefix:
            path = prefix + ("" if not path or path.startswith("[") else ".") + path
        out.append(Problem(str(doc.file), doc.line(loc), path, message, hint, system))
    return out


def _sorted(problems: list[Problem]) -> list[Problem]:
    # file order, then line order; problems without a line (whole-file ones) first
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


# -- what went wrong, in our words ---------------------------------------------------------

def _describe(err: ErrorDetails, walk: _Walk) -> tuple[str, str | None]:
    loc, label, annotation = walk.loc, walk.label, walk.annotation
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    name = str(loc[-1]) if loc else "document"
    if isinstance(loc[-1:][0] if loc else None, int):
        name = format_loc(loc)
    if kind == "extra_forbidden":
        valid = sorted(walk.parent.keys() if issubclass(walk.parent, FileModel) else
                       walk.parent.model_fields) if walk.parent is not None else []
        return f"unknown key {name!r}", did_you_mean(name, valid) if valid else None
    if kind == "missing":
        return f"{name} is required", _example(walk.parent)
    if kind in ("literal_error", "enum"):
        valid = _QUOTED.findall(str(ctx.get("expected", "")))
        return (f"unknown {label or name.replace('_', ' ')} {_show(value)}",
                did_you_mean(str(value), valid))
    if kind == "union_tag_invalid":
        valid = _QUOTED.findall(str(ctx.get("expected_tags", "")))
        tag = str(ctx.get("tag", value))
        return f"unknown {label or name} type {tag!r}", did_you_mean(tag, valid)
    if kind == "union_tag_not_found":
        return f"{name} needs a type", None
    if kind.startswith("hrss_"):  # our own PydanticCustomError: message and hint as given
        hint = ctx.get("hint")
        return err["msg"], None if hint is None else str(hint)
    return f"{name} {_plain(err, _is_int(annotation))}", None


def _is_int(annotation: Any) -> bool:
    return any(m is int for m in _members(annotation)) or annotation is int


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


_EXAMPLE = re.compile(r"``(\{[^`]*\})``")


def _example(model: type[BaseModel] | None) -> str | None:
    """``e.g. {type: next_url, next_url_path: links.next}`` when the model's docstring shows
    its YAML form (the pagination styles' docstrings do)."""
    found = _EXAMPLE.search(model.__doc__ or "") if model is not None else None
    return f"e.g. {found.group(1)}" if found else None


def _plain(err: ErrorDetails, integer: bool) -> str:
    kind = err["type"]
    value = _show(err.get("input"))
    ctx = err.get("ctx") or {}
    simple = {
        "int_parsing": f"must be an integer, got {value}",
        "int_type": f"must be an integer, got {value}",
        "int_from_float": f"must be a whole number, got {value}",
        "float_parsing": f"must be a number, got {value}",
        "float_type": f"must be a number, got {value}",
        "bool_parsing": f"must be true or false, got {value}",
        "bool_type": f"must be true or false, got {value}",
        "string_type": f"must be text, got {value}",
        "list_type": f"must be a list, got {value}",
        "tuple_type": f"must be a list, got {value}",
        "dict_type": f"must be a mapping, got {value}",
        "model_type": f"must be a mapping, got {value}",
        "model_attributes_type": f"must be a mapping, got {value}",
        "date_parsing": f"must be a date (YYYY-MM-DD), got {value}",
        "date_from_datetime_parsing": f"must be a date (YYYY-MM-DD), got {value}",
        "date_type": f"must be a date (YYYY-MM-DD), got {value}",
        "too_short": "must not be empty" if ctx.get("min_length") == 1
        else f"needs at least {ctx.get('min_length')} item(s)",
        "string_too_short": "must not be empty" if ctx.get("min_length") == 1
        else f"must have at least {ctx.get('min_length')} characters",
        "string_pattern_mismatch": f"{value} does not have the expected form",
    }
    if kind in simple:
        return simple[kind]
    what = "integer" if integer else "number"
    if kind == "greater_than":
        return (f"must be a positive {what}, got {value}" if ctx.get("gt") == 0
                else f"must be greater than {_number(ctx.get('gt'))}, got {value}")
    if kind == "greater_than_equal":
        return (f"must be a non-negative {what}, got {value}" if ctx.get("ge") == 0
                else f"must be at least {_number(ctx.get('ge'))}, got {value}")
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx.get('le'))}, got {value}"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}, got {value}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    message = str(err["msg"])
    if message.startswith("Input should be "):
        return f"must be {message.removeprefix('Input should be ')}, got {value}"
    return message


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


# -- walking the model along a location ---------------------------------------------------

def _field(fields: dict[str, Any], part: Any) -> Any:
    """The field a location part names (pydantic locations use aliases)."""
    for name, info in fields.items():
        if part in (name, info.alias):
            return info
    return None


@dataclass(frozen=True)
class _Walk:
    """Where a pydantic error location leads in the model and the document."""

    loc: Loc  # the YAML path
    label: str | None  # title of the field it ends at
    annotation: Any  # type of the field it ends at
    parent: type[BaseModel] | None  # the model whose key the last part is


def _walk(model: type[BaseModel], loc: tuple[Any, ...], data: Any) -> _Walk:
    """Follow ``loc`` through ``model`` and ``data``: drop the tags pydantic inserts for
    discriminated unions and the keys of a shorthand (``id: string`` for ``{type: string}``),
    use YAML aliases, and note the field and model it ends at."""
    out: list[str | int] = []
    label: str | None = None
    parent: type[BaseModel] | None = None
    tp: Any = model
    value = data
    for part in loc:
        tp = _resolve(tp, value)
        fields = _model_fields(tp)
        if fields is not None:
            info = _field(fields, part)
            if info is None and isinstance(part, str) and _is_tag(tp, part):
                continue
            parent = tp
            label = info.title if info is not None else None
            tp = info.annotation if info is not None else Any
            if value is not None and not isinstance(value, Mapping):
                continue  # a shorthand: the YAML has a scalar where the model has a mapping
            key = (info.alias or str(part)) if info is not None else str(part)
            out.append(key)
            value = value.get(key) if isinstance(value, Mapping) else None
            continue
        if _is_tagged_union(tp) and isinstance(part, str):
            continue  # the tag of a discriminated union member
        out.append(part)
        parent = None  # (the label stays: a dict of actions is labelled by its field)
        origin, args = get_origin(tp), get_args(tp)
        if origin in (list, tuple) and args:
            tp = args[0]
        elif origin in (dict, Mapping) or origin is typing.Mapping:
            tp = args[1] if len(args) == 2 else Any
        else:
            tp = Any
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            value = None
    return _Walk(tuple(out), label, tp, parent)


def _model_fields(tp: Any) -> dict[str, Any] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return dict(tp.model_fields)
    return None


def _members(tp: Any) -> tuple[Any, ...]:
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return tuple(m for a in get_args(tp) for m in _members(a))
    return (tp,)


def _is_tagged_union(tp: Any) -> bool:
    return get_origin(tp) is typing.Annotated and len(_models(tp)) > 1


def _models(tp: Any) -> list[type[BaseModel]]:
    return [m for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]


def _is_tag(tp: Any, part: str) -> bool:
    for info in (_model_fields(tp) or {}).values():
        args = get_args(info.annotation) if get_origin(info.annotation) is Literal else ()
        if part in args:
            return True
    return False


def _resolve(tp: Any, value: Any) -> Any:
    """The member of a union (or the inner type of ``Annotated``/``Optional``) that ``value``
    was validated as: for discriminated unions, the one whose ``type`` matches."""
    models = _models(tp)
    if not models:
        members = [m for m in _members(tp) if m is not type(None)]
        return members[0] if len(members) == 1 else tp
    if len(models) == 1:
        return _by_tag(models[0], value)
    tag = value.get("type") if isinstance(value, Mapping) else None
    for m in models:
        if _tagged(m, tag):
            return m
    return models[0]


def _tagged(model: type[BaseModel], tag: Any) -> bool:
    info = model.model_fields.get("type")
    return info is not None and get_origin(info.annotation) is Literal \
        and tag in get_args(info.annotation)


def _by_tag(model: type[BaseModel], value: Any) -> type[BaseModel]:
    """The subclass of ``model`` whose ``type`` literal is ``value['type']`` — for a field
    declared as a base class and validated as the registered subclass of its style
    (pagination options)."""
    tag = value.get("type") if isinstance(value, Mapping) else None
    if tag is None or _tagged(model, tag):
        return model
    stack = list(model.__subclasses__())
    while stack:
        sub = stack.pop()
        if _tagged(sub, tag):
            return sub
        stack.extend(sub.__subclasses__())
    return model

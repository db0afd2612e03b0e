"""Typed form of a stream's ``mapping:`` block (see docs/mapping.md).

Parsing only checks the *shape* of the YAML; whether fields exist in the standard and
types fit is checked by :mod:`hrss_hub.mapping.check` and at compile time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hrss_hub.errors import ConfigError, unknown_choice

#: expression kinds: exactly one of these keys selects how a target field is computed
EXPRESSION_KEYS = ("from", "const", "concat", "expr", "transform")
NORMALIZERS = (
    "citizen_id", "uscc", "org_code", "date", "excel_date", "period", "fullwidth", "name",
    "amount", "trim",
)
_FIELD_KEYS = frozenset({
    "from", "const", "concat", "sep", "map", "fallback", "codes", "normalize", "formats",
    "unit", "date1904", "expr", "transform", "args",
})
_MAPPING_KEYS = frozenset({"entity", "source_key", "filter", "fields"})
_FILTER_OPS = ("in", "not_in", "equals", "not_null")


@dataclass(frozen=True)
class FieldSpec:
    """How one target field is computed."""

    target: str
    path: str
    source: str | None = None
    const: Any = None
    concat: tuple[str, ...] = ()
    sep: str = ""
    expr: str | None = None
    transform: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    value_map: dict[str, str] | None = None
    fallback: str | None = None  # a code, or "quarantine"; None = keep the source value
    codes: str | None = None
    normalize: str | None = None
    formats: tuple[str, ...] = ()
    unit: str = "yuan"
    date1904: bool = False

    def source_columns(self) -> list[str]:
        """Source columns this field reads (for checks against discovered schemas)."""
        if self.source:
            return [self.source]
        if self.concat:
            return list(self.concat)
        if self.expr:
            from hrss_hub.mapping.expr import expression_columns

            return expression_columns(self.expr)
        return []


@dataclass(frozen=True)
class FilterSpec:
    """A row filter: rows that do not match are counted as *filtered*."""

    column: str
    op: str
    values: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class MappingSpec:
    """A stream's mapping onto one entity of the standard."""

    entity: str
    source_key: tuple[str, ...]
    fields: dict[str, FieldSpec]
    filters: tuple[FilterSpec, ...]
    file: str
    path: str

    def source_columns(self) -> set[str]:
        """Every source column the mapping reads."""
        cols = set(self.source_key)
        for f in self.fields.values():
            cols.update(f.source_columns())
        cols.update(flt.column for flt in self.filters)
        return cols


def _err(message: str, file: str, path: str, hint: str | None = None) -> ConfigError:
    return ConfigError(message, {"file": file, "path": path}, hint)


def _str_list(value: Any, file: str, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v) for v in value)
    raise _err(f"expected a column name or a list of them, got {value!r}", file, path)


def parse_field(target: str, raw: Any, file: str, path: str) -> FieldSpec:
    """Parse one ``fields.<target>`` entry. A bare string is shorthand for ``{from: NAME}``."""
    if isinstance(raw, str):
        return FieldSpec(target=target, path=path, source=raw)
    if not isinstance(raw, dict):
        raise _err(f"field mapping must be a mapping or a column name, got {raw!r}", file, path)
    for key in raw:
        if key not in _FIELD_KEYS:
            raise unknown_choice("mapping key", str(key), _FIELD_KEYS, file=file,
                                 path=f"{path}.{key}")
    chosen = [k for k in EXPRESSION_KEYS if k in raw]
    if len(chosen) > 1:
        raise _err(f"use only one of {', '.join(chosen)}", file, path)
    if not chosen and "codes" not in raw and "map" not in raw:
        raise _err("no value: give one of from, const, concat, expr, transform", file, path,
                   "e.g. {from: SOURCE_COLUMN}")
    normalize = raw.get("normalize")
    if normalize is not None and normalize not in NORMALIZERS:
        raise unknown_choice("normalizer", str(normalize), NORMALIZERS, file=file,
                             path=f"{path}.normalize")
    value_map = raw.get("map")
    if value_map is not None:
        if not isinstance(value_map, dict):
            raise _err("map must be a mapping of source value → code", file, f"{path}.map")
        value_map = {str(k): str(v) for k, v in value_map.items()}
    fallback = raw.get("fallback")
    if fallback is not None:
        fallback = str(fallback)
    unit = str(raw.get("unit", "yuan"))
    if unit not in ("yuan", "fen"):
        raise unknown_choice("amount unit", unit, ("yuan", "fen"), file=file, path=f"{path}.unit")
    formats = raw.get("formats", ())
    if isinstance(formats, str):
        formats = (formats,)
    args = raw.get("args", {})
    if not isinstance(args, dict):
        raise _err("args must be a mapping", file, f"{path}.args")
    return FieldSpec(
        target=target,
        path=path,
        source=str(raw["from"]) if "from" in raw else None,
        const=raw.get("const"),
        concat=_str_list(raw["concat"], file, f"{path}.concat") if "concat" in raw else (),
        sep=str(raw.get("sep", "")),
        expr=str(raw["expr"]) if "expr" in raw else None,
        transform=str(raw["transform"]) if "transform" in raw else None,
        args=args,
        value_map=value_map,
        fallback=fallback,
        codes=str(raw["codes"]) if "codes" in raw else None,
        normalize=normalize,
        formats=tuple(str(f) for f in formats),
        unit=unit,
        date1904=bool(raw.get("date1904", False)),
    )


def parse_filter(raw: Any, file: str, path: str) -> FilterSpec:
    """Parse one ``filter`` entry, e.g. ``{column: AAE100, in: ["1"]}``."""
    if not isinstance(raw, dict) or "column" not in raw:
        raise _err("a filter needs a column and one of " + ", ".join(_FILTER_OPS), file, path)
    ops = [k for k in raw if k != "column"]
    if len(ops) != 1 or ops[0] not in _FILTER_OPS:
        bad = next((k for k in ops if k not in _FILTER_OPS), ops[0] if ops else "")
        raise unknown_choice("filter operator", str(bad), _FILTER_OPS, file=file, path=path)
    op = ops[0]
    value = raw[op]
    values: tuple[str, ...] = ()
    if op in ("in", "not_in"):
        values = _str_list(value, file, f"{path}.{op}")
    elif op == "equals":
        values = (str(value),)
    return FilterSpec(column=str(raw["column"]), op=op, values=values, path=path)


def parse_mapping(raw: Any, file: str, path: str) -> MappingSpec:
    """Parse a stream's ``mapping:`` block; errors name the file and the YAML path."""
    if not isinstance(raw, dict):
        raise _err("mapping must be a mapping with entity, source_key and fields", file, path)
    for key in raw:
        if key not in _MAPPING_KEYS:
            raise unknown_choice("mapping key", str(key), _MAPPING_KEYS, file=file,
                                 path=f"{path}.{key}")
    if "entity" not in raw:
        raise _err("mapping has no entity", file, path, "add entity: person (or another entity)")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise _err("mapping has no fields", file, f"{path}.fields")
    fields = {
        str(t): parse_field(str(t), spec, file, f"{path}.fields.{t}")
        for t, spec in fields_raw.items()
    }
    filters_raw = raw.get("filter", [])
    if isinstance(filters_raw, dict):
        filters_raw = [filters_raw]
    filters = tuple(
        parse_filter(f, file, f"{path}.filter[{i}]") for i, f in enumerate(filters_raw)
    )
    source_key = _str_list(raw.get("source_key", []), file, f"{path}.source_key")
    return MappingSpec(
        entity=str(raw["entity"]), source_key=source_key, fields=fields, filters=filters,
        file=file, path=path,
    )

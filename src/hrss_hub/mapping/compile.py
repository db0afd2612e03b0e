"""Compile a :class:`MappingSpec` into vectorized Arrow operations, evaluated per batch.

Compilation resolves everything that does not depend on data once: the target fields and
their Arrow types, code lists, value maps as lookup arrays, normalizers, expressions and
registered transforms. ``CompiledMapping.apply`` then runs only pyarrow.compute kernels
(and the standard package's vectorized normalizers) over each batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub import keys
from hrss_hub.connectors.base import LOCATION_COLUMN
from hrss_hub.errors import MappingError, unknown_choice
from hrss_hub.mapping import expr as expressions
from hrss_hub.mapping.normalizers import (
    ADAPTERS,
    IMPLICIT_BY_IDENTIFIER,
    IMPLICIT_BY_TYPE,
    Normalized,
)
from hrss_hub.mapping.spec import FieldSpec, MappingSpec
from hrss_hub.standard.model import Entity, Standard


@dataclass
class Failure:
    """Rows of one batch that fail one rule on one field."""

    rule: str
    field: str
    mask: pa.Array  # bool, True = row fails
    offending: pa.Array  # string: the source value shown to stewards


@dataclass
class MappedBatch:
    """One source batch mapped onto an entity: typed values plus everything rules need."""

    num_rows: int
    columns: dict[str, pa.Array]
    failures: list[Failure]
    filtered: pa.Array  # bool, True = removed by a filter
    source_key: pa.Array  # string
    location: pa.Array  # string
    id_info: dict[str, pa.StructArray] = field(default_factory=dict)
    #: each record's own update time in its source (timestamp[us, UTC]; None: unknown)
    source_updated_at: pa.Array | None = None


def _as_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def as_text(arr: pa.Array) -> pa.Array:
    """Any source column as strings (dates as ISO, numbers as written)."""
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type) or pa.types.is_dictionary(arr.type):
        return pc.cast(arr, pa.string())
    return pc.cast(arr, pa.string())


def is_empty(arr: pa.Array) -> pa.Array:
    """True where a source value is null or blank."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
        return pc.fill_null(pc.or_kleene(pc.is_null(arr), blank), True)
    return pc.is_null(arr)


def _null_text(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


def _base_type(type_name: str) -> str:
    return type_name.split("(", 1)[0].strip()


class CompiledField:
    """One target field: how to compute it and which rules its computation can fire."""

    def __init__(self, spec: FieldSpec, mapping: CompiledMapping) -> None:
        self.spec = spec
        self.target = mapping.entity.field(spec.target)
        self.base_type = _base_type(self.target.type)
        self.arrow_type = self.target.arrow_type
        std = mapping.standard
        self.code_list = std.code_list(self.target.code_list) if self.target.code_list else None
        self.codes = std.code_list(spec.codes) if spec.codes else None
        if self.codes is None and self.code_list is not None and spec.value_map is None:
            # a code-list field without an explicit map accepts the list's codes and aliases
            self.codes = self.code_list
        normalizer = spec.normalize
        if normalizer is None and self.target.identifier:
            normalizer = IMPLICIT_BY_IDENTIFIER.get(self.target.identifier)
        if normalizer is None and self.codes is None and spec.const is None and not spec.expr:
            normalizer = IMPLICIT_BY_TYPE.get(self.base_type)
        self.normalizer = ADAPTERS[normalizer] if normalizer else None
        self.normalizer_name = normalizer
        if spec.value_map is not None:
            self.map_keys = pa.array(list(spec.value_map.keys()), pa.string())
            self.map_values = pa.array(list(spec.value_map.values()), pa.string())
        self.transform: Callable[..., Any] | None = None
        if spec.transform:
            self.transform = load_transform(spec.transform, spec.path)

    # -- evaluation -------------------------------------------------------------------
    def source(self, batch: pa.RecordBatch, column: Callable[[str], pa.Array],
               failures: list[Failure] | None = None) -> pa.Array:
        """The field's value before normalizing (``failures``: where an expression's
        operand is not a number is recorded)."""
        spec = self.spec
        n = batch.num_rows
        if spec.source is not None:
            return column(spec.source)
        if spec.const is not None:
            return pa.repeat(pa.scalar(str(spec.const), pa.string()), n)
        if spec.concat:
            parts = [pc.fill_null(as_text(column(c)), "") for c in spec.concat]
            return pc.binary_join_element_wise(*parts, spec.sep)
        if spec.expr:
            invalid = pa.repeat(pa.scalar(False), n)
            shown: list[pa.Array] = []

            def num(name: str) -> pa.Array:
                nonlocal invalid
                col = column(name)
                values, bad = expressions.numeric_operand(col)
                invalid = pc.or_(invalid, bad)
                shown.append(as_text(col))
                return values
            result = expressions.evaluate(spec.expr, num)
            if failures is not None and shown:
                # the steward sees the operand text that is not a number
                failures.append(Failure("value_invalid", spec.target, invalid,
                                        pc.binary_join_element_wise(
                                            *[pc.fill_null(c, "") for c in shown], " ")
                                        if len(shown) > 1 else shown[0]))
            return result
        if self.transform is not None:
            return _as_array(self.transform(batch, **spec.args))
        if spec.codes or spec.value_map:
            raise MappingError("a code mapping needs a source column",
                               {"path": spec.path}, "add from: SOURCE_COLUMN")
        raise MappingError("field has no value", {"path": spec.path})

    def apply(self, batch: pa.RecordBatch, column: Callable[[str], pa.Array],
              failures: list[Failure], id_info: dict[str, pa.StructArray]) -> pa.Array:
        n = batch.num_rows
        raw = self.source(batch, column, failures)
        empty = is_empty(raw)
        if self.target.required:
            failures.append(Failure("required_missing", self.spec.target, empty,
                                    _null_text(n)))
        if pa.types.is_decimal(raw.type) and self.spec.expr:
            # expressions compute in decimal; 四舍五入 to the target's scale (money: fen)
            if pa.types.is_decimal(self.arrow_type):
                return self._decimal_to_target(
                    expressions.round_half_up(raw, self.arrow_type.scale))
            if pa.types.is_integer(self.arrow_type):
                return self._decimal_to_target(expressions.round_half_up(raw, 0))
            if pa.types.is_floating(self.arrow_type):
                return pc.cast(raw, self.arrow_type)
        if _matches(raw.type, self.arrow_type) and self.normalizer is None \
                and self.codes is None and self.spec.value_map is None:
            return raw
        text = as_text(raw)
        text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
        value = text
        if self.spec.value_map is not None:
            idx = pc.index_in(pc.utf8_trim_whitespace(text), value_set=self.map_keys)
            mapped = pc.take(self.map_values, idx)
            unmapped = pc.fill_null(pc.and_(pc.is_valid(text), pc.is_null(idx)), False)
            fallback = self.spec.fallback
            if fallback == "quarantine":
                failures.append(Failure("code_unmapped", self.spec.target, unmapped, text))
                value = mapped
            elif fallback is not None:
                value = pc.if_else(unmapped, pa.scalar(fallback, pa.string()), mapped)
            else:
                value = pc.if_else(unmapped, text, mapped)
        if self.codes is not None:
            codes, unknown = self.codes.map_array(value)
            failures.append(Failure("code_unknown", self.spec.target,
                                    pc.fill_null(unknown, False), text))
            value = codes
        elif self.code_list is not None:
            known = self.code_list.is_valid_array(value)
            unknown = pc.fill_null(pc.and_(pc.is_valid(value), pc.invert(known)), False)
            failures.append(Failure("code_unknown", self.spec.target, unknown, text))
            value = pc.if_else(unknown, pa.scalar(None, pa.string()), value)
        if self.normalizer is not None:
            result: Normalized = self.normalizer(value, self.spec)
            if result.rule is not None:
                failures.append(Failure(result.rule, self.spec.target, result.invalid, text))
            if result.derived is not None:
                id_info[self.spec.target] = result.derived
            value = result.values
        return self._to_target_type(value, text, failures)

    def _decimal_to_target(self, value: pa.Array) -> pa.Array:
        """A rounded decimal (or integer-valued) array in the target type."""
        source, target = value.type, self.arrow_type
        target_scale = target.scale if pa.types.is_decimal(target) else 0
        if pa.types.is_decimal(target) and \
                source.precision - source.scale <= target.precision - target_scale:
            # every value fits the target's integer digits by type and is already rounded
            # to its scale: dropping the zero digits needs no checks (5x faster)
            return pc.cast(value, target, safe=False)
        try:
            return pc.cast(value, self.arrow_type)
        except pa.ArrowInvalid:
            raise MappingError(f"expression result does not fit {self.arrow_type}",
                               {"path": self.spec.path},
                               "check the expression's units (yuan vs fen)") from None

    def _to_target_type(self, value: pa.Array, text: pa.Array,
                        failures: list[Failure]) -> pa.Array:
        target = self.arrow_type
        if value.type == target:
            return value
        if pa.types.is_string(target):
            return pc.cast(value, target)
        if pa.types.is_decimal(target) and pa.types.is_decimal(value.type):
            return pc.cast(value, target)
        if pa.types.is_integer(target) and pa.types.is_string(value.type):
            ok = pc.fill_null(pc.match_substring_regex(value, r"^\s*[-+]?\d+\s*$"), False)
            bad = pc.and_(pc.is_valid(value), pc.invert(ok))
            failures.append(Failure("value_invalid", self.spec.target, bad, text))
            clean = pc.if_else(ok, pc.utf8_trim_whitespace(value), pa.scalar(None, pa.string()))
            return pc.cast(clean, target)
        if pa.types.is_boolean(target) and pa.types.is_string(value.type):
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(value))
            truthy = pc.is_in(lowered, value_set=pa.array(["1", "true", "y", "yes", "是"]))
            falsy = pc.is_in(lowered, value_set=pa.array(["0", "false", "n", "no", "否"]))
            bad = pc.and_(pc.is_valid(value), pc.invert(pc.or_(truthy, falsy)))
            failures.append(Failure("value_invalid", self.spec.target, bad, text))
            return pc.if_else(truthy, True, pc.if_else(falsy, False, pa.scalar(None, pa.bool_())))
        try:
            return pc.cast(value, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise MappingError(
                f"cannot convert {value.type} to {target} for field {self.spec.target}: {exc}",
                {"path": self.spec.path},
                "add a normalizer (e.g. normalize: date with formats) to the field") from None


def _matches(source: pa.DataType, target: pa.DataType) -> bool:
    if source == target:
        return True
    if pa.types.is_string(target):
        return False  # strings still get trimmed / code-mapped
    both_int = bool(pa.types.is_integer(source) and pa.types.is_integer(target))
    return both_int or bool(pa.types.is_date(source) and pa.types.is_date(target))


def load_transform(name: str, path: str) -> Callable[..., Any]:
    """A Python function registered under the ``hrss_hub.transforms`` entry point group."""
    found = {ep.name: ep for ep in entry_points(group="hrss_hub.transforms")}
    if name not in found:
        raise unknown_choice("transform", name, found, path=path)
    func: Callable[..., Any] = found[name].load()
    return func


class CompiledMapping:
    """A mapping ready to evaluate batches of one stream."""

    def __init__(self, spec: MappingSpec, standard: Standard) -> None:
        self.spec = spec
        self.standard = standard
        self.entity: Entity = standard.entity(spec.entity)
        known = {f.name for f in self.entity.fields}
        for target, fspec in spec.fields.items():
            if target not in known:
                raise unknown_choice(f"field of entity {spec.entity}", target, known,
                                     file=spec.file, path=fspec.path)
        missing = [f.name for f in self.entity.fields if f.required and f.name not in spec.fields]
        if missing:
            raise MappingError(
                f"required field(s) {', '.join(missing)} of entity {spec.entity} are not mapped",
                {"file": spec.file, "path": f"{spec.path}.fields"},
                "map them, e.g. " + missing[0] + ": {from: SOURCE_COLUMN}")
        self.fields = {t: CompiledField(s, self) for t, s in spec.fields.items()}
        self.raw_of = raw_fields(self.entity, spec)

    def apply(self, batch: pa.RecordBatch) -> MappedBatch:
        """Map one batch. Raises ``MappingError`` if a source column is missing."""
        n = batch.num_rows
        names = set(batch.schema.names)

        def column(name: str) -> pa.Array:
            if name not in names:
                from hrss_hub.errors import unknown_choice as _uc

                err = _uc("source column", name, names - {LOCATION_COLUMN},
                          file=self.spec.file, path=self.spec.path)
                raise MappingError(err.message, err.context, err.hint)
            return _as_array(batch.column(name))

        failures: list[Failure] = []
        id_info: dict[str, pa.StructArray] = {}
        columns: dict[str, pa.Array] = {}
        for fdef in self.entity.fields:
            compiled = self.fields.get(fdef.name)
            base = self.raw_of.get(fdef.name)
            if base is not None:
                # ``<field>_raw`` keeps the source text of ``<field>`` (blank → null)
                text = as_text(self.fields[base].source(batch, column))
                columns[fdef.name] = pc.cast(
                    pc.if_else(is_empty(text), pa.scalar(None, pa.string()), text),
                    fdef.arrow_type)
            elif compiled is None:
                columns[fdef.name] = pa.nulls(n, fdef.arrow_type)
            else:
                columns[fdef.name] = compiled.apply(batch, column, failures, id_info)
        filtered = self._filter(batch, column, n)
        if self.spec.source_key:
            # the hub's one key encoding: simple keys unchanged, composite ones unambiguous
            source_key = keys.encode_columns([as_text(column(c)) for c in self.spec.source_key])
        else:
            source_key = _null_text(n)
        location = column(LOCATION_COLUMN) if LOCATION_COLUMN in names else _null_text(n)
        return MappedBatch(n, columns, failures, filtered, source_key, location, id_info)

    def _filter(self, batch: pa.RecordBatch, column: Callable[[str], pa.Array],
                n: int) -> pa.Array:
        keep = pa.repeat(pa.scalar(True), n)
        for flt in self.spec.filters:
            col = as_text(column(flt.column))
            if flt.op == "not_null":
                match = pc.invert(is_empty(col))
            else:
                match = pc.fill_null(pc.is_in(pc.utf8_trim_whitespace(col),
                                              value_set=pa.array(list(flt.values))), False)
                if flt.op == "not_in":
                    match = pc.invert(match)
            keep = pc.and_(keep, match)
        return pc.invert(keep)


#: suffix of the fields that keep a normalized field's source value (``citizen_id_raw``)
RAW_SUFFIX = "_raw"


def raw_fields(entity: Entity, spec: MappingSpec) -> dict[str, str]:
    """``{raw field: normalized field}`` filled automatically by the mapping.

    An entity field ``<f>_raw`` (e.g. ``citizen_id_raw``, ``name_raw``) that the mapping does
    not map itself keeps the source text of ``<f>`` when ``<f>`` is mapped from source
    columns (``from`` or ``concat``): the raw value is kept without mapping it by hand.
    """
    names = {f.name for f in entity.fields}
    found: dict[str, str] = {}
    for name in names:
        base = name.removesuffix(RAW_SUFFIX)
        if not name.endswith(RAW_SUFFIX) or base not in names or name in spec.fields:
            continue
        fspec = spec.fields.get(base)
        if fspec is not None and (fspec.source is not None or fspec.concat):
            found[name] = base
    return found


def compile_mapping(spec: MappingSpec, standard: Standard) -> CompiledMapping:
    """Compile ``spec`` against ``standard`` (errors name the file and YAML path)."""
    return CompiledMapping(spec, standard)

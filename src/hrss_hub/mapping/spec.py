"""Typed form of a stream's ``mapping:`` block (see docs/mapping.md).

:class:`MappingModel` is the pydantic model of the YAML (the connector-file model embeds it,
so a wrong mapping is reported with the file's other problems, with lines); the frozen
specs below (:class:`MappingSpec`, :class:`FieldSpec`, :class:`FilterSpec`) are what the
compiler works with. Parsing only checks the *shape*; whether fields exist in the standard
and types fit is checked by :mod:`hrss_hub.mapping.check` and at compile time.

No pyarrow here: the Airflow DAG parser validates connector files with these models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from hrss_hub.config.model import Columns, FileModel, Name, Text, fail, scalar_text

#: expression kinds: exactly one of these keys selects how a target field is computed
EXPRESSION_KEYS = ("from", "const", "concat", "expr", "transform")
NORMALIZERS = (
    "citizen_id", "uscc", "org_code", "date", "excel_date", "period", "fullwidth", "name",
    "amount", "trim",
)
_FILTER_OPS = ("in", "not_in", "equals", "not_null")

Normalizer = Literal["citizen_id", "uscc", "org_code", "date", "excel_date", "period",
                     "fullwidth", "name", "amount", "trim"]


def _text_map(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): scalar_text(v) for k, v in value.items()}
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class FieldModel(FileModel):
    """How one target field is computed (``fields.<target>``)."""

    source: Name | None = Field(default=None, alias="from")
    const: Any = None
    concat: Columns | None = None
    sep: str = ""
    map: Annotated[dict[str, str], BeforeValidator(_text_map)] | None = Field(
        default=None, title="value map")
    fallback: Text | None = None
    codes: Name | None = None
    normalize: Normalizer | None = Field(default=None, title="normalizer")
    formats: Annotated[tuple[str, ...], BeforeValidator(_as_list)] = ()
    unit: Literal["yuan", "fen"] = Field(default="yuan", title="amount unit")
    date1904: bool = False
    expr: Name | None = None
    transform: Name | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_value(self) -> FieldModel:
        given = {"source": "from"}
        chosen = [given.get(k, k) for k in ("source", "const", "concat", "expr", "transform")
                  if k in self.model_fields_set]
        if len(chosen) > 1:
            raise fail(f"use only one of {', '.join(chosen)}")
        if not chosen and self.codes is None and self.map is None:
            raise fail("no value: give one of from, const, concat, expr, transform",
                       "e.g. {from: SOURCE_COLUMN}")
        return self


def _field_shorthand(value: Any) -> Any:
    # ``gender: AAC004`` is shorthand for ``gender: {from: AAC004}``
    if isinstance(value, dict):
        return {k: {"from": v} if isinstance(v, str | int) and not isinstance(v, bool) else v
                for k, v in value.items()}
    return value


class FilterModel(FileModel):
    """A row filter, e.g. ``{column: AAE100, in: ["1"]}``."""

    column: Name
    in_: Columns | None = Field(default=None, alias="in")
    not_in: Columns | None = None
    equals: Text | None = None
    not_null: Any = None

    @model_validator(mode="after")
    def _one_operator(self) -> FilterModel:
        ops = [op for op in _FILTER_OPS if self._op_field(op) in self.model_fields_set]
        if len(ops) != 1:
            raise fail("a filter needs a column and exactly one of " + ", ".join(_FILTER_OPS),
                       "e.g. {column: AAE100, in: ['1']}")
        return self

    @staticmethod
    def _op_field(op: str) -> str:
        return "in_" if op == "in" else op

    @property
    def op(self) -> str:
        """The operator given (``in``, ``not_in``, ``equals`` or ``not_null``)."""
        return next(op for op in _FILTER_OPS if self._op_field(op) in self.model_fields_set)


def _filters(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class MappingModel(FileModel):
    """A stream's ``mapping:`` block."""

    entity: Name | None = Field(default=None, validate_default=True)
    source_key: Columns = ()
    filter: Annotated[tuple[FilterModel, ...], BeforeValidator(_filters)] = ()
    fields: Annotated[dict[str, FieldModel], BeforeValidator(_field_shorthand)] = Field(
        default_factory=dict, validate_default=True)

    @field_validator("entity")
    @classmethod
    def _needs_entity(cls, value: str | None) -> str | None:
        if value is None:
            raise fail("mapping has no entity", "add entity: person (or another entity)")
        return value

    @field_validator("fields")
    @classmethod
    def _needs_fields(cls, value: dict[str, FieldModel]) -> dict[str, FieldModel]:
        if not value:
            raise fail("mapping has no fields", "add fields: {target_field: SOURCE_COLUMN, …}")
        return value


# -- the specs the compiler uses ------------------------------------------------------------

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


def field_spec(target: str, model: FieldModel, path: str) -> FieldSpec:
    """The compiler's spec of one validated field."""
    return FieldSpec(
        target=target, path=path, source=model.source, const=model.const,
        concat=model.concat or (), sep=model.sep, expr=model.expr, transform=model.transform,
        args=dict(model.args), value_map=None if model.map is None else dict(model.map),
        fallback=model.fallback, codes=model.codes, normalize=model.normalize,
        formats=model.formats, unit=model.unit, date1904=model.date1904)


def filter_spec(model: FilterModel, path: str) -> FilterSpec:
    """The compiler's spec of one validated filter."""
    values: tuple[str, ...] = ()
    if model.op == "in":
        values = model.in_ or ()
    elif model.op == "not_in":
        values = model.not_in or ()
    elif model.op == "equals":
        values = (str(model.equals),)
    return FilterSpec(column=model.column, op=model.op, values=values, path=path)


def mapping_spec(model: MappingModel, file: str, path: str) -> MappingSpec:
    """The compiler's spec of a validated ``mapping:`` block found at ``path`` of ``file``."""
    assert model.entity is not None  # enforced by the model
    return MappingSpec(
        entity=model.entity, source_key=model.source_key,
        fields={t: field_spec(t, f, f"{path}.fields.{t}") for t, f in model.fields.items()},
        filters=tuple(filter_spec(f, f"{path}.filter[{i}]") for i, f in enumerate(model.filter)),
        file=file, path=path)


def parse_mapping(raw: Any, file: str, path: str) -> MappingSpec:
    """Parse a stream's ``mapping:`` block; every problem names the file and YAML path.

    Connector files are validated with their mapping when they are loaded (with line
    numbers); this is for mappings given as data (tests, tools).
    """
    from hrss_hub.config.problems import ConfigProblems
    from hrss_hub.config.validation import problems_from
    from hrss_hub.config.yamldoc import YamlDoc

    if not isinstance(raw, dict):
        raise ConfigProblems.of(_problem(file, path, "mapping must be a mapping with entity, "
                                                     "source_key and fields"))
    try:
        model = MappingModel.model_validate(raw)
    except ValidationError as exc:
        from pathlib import Path

        doc = YamlDoc(file=Path(file), data=raw)
        found = problems_from(exc, MappingModel, doc, prefix=path)
        raise ConfigProblems.collect(found) from None
    return mapping_spec(model, file, path)


def _problem(file: str, path: str, message: str) -> Any:
    from hrss_hub.config.problems import Problem

    return Problem(file, None, path, message)

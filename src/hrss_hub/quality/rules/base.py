"""What a rule is: one small class with an id, labels, a parameters model, a default severity
and one vectorized predicate.

A rule is *decided* at one of four stages (:data:`Stage`):

* ``source`` — the connector could not read the raw record (``malformed_record``);
* ``mapping`` — the mapping could not convert a non-empty source value into the field's type,
  identifier or code (``date_invalid``, ``citizen_id_invalid``, ``code_unknown`` …) or a
  required value is empty. Such a value cannot be published (its typed value would be null),
  so these rows are always quarantined; the rule's predicate states the same judgement on the
  validation frame, which is what Great Expectations runs and what hand-written suites use on
  fields the mapping does not convert;
* ``row`` — a predicate over the validation frame: cross-field rules, patterns, ranges,
  references, and every rule a plugin adds;
* ``key`` — ``duplicate_key``, among the rows that passed every quarantining rule.

Rules of the ``source`` stage and ``code_unmapped`` are :class:`RecordedRule`: they are
registered (labels, severity, docs) but have no predicate, because the connector or the
mapping records them where they happen. Every other rule is a :class:`Rule`.

Predicates see the *validation frame* (:mod:`hrss_hub.quality.frame`): every field as
canonical text, the raw source text where the mapping could not canonicalize it. They get
only the rows to judge: a rule that does not judge nulls never sees a row with a null input
(Great Expectations' ``ignore_row_if: any_value_is_missing`` / column-map semantics).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar, cast

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from hrss_hub.quality.keyset import SeenKeys

if TYPE_CHECKING:
    from hrss_hub.standard.model import Entity, Field, Standard

Severity = Literal["critical", "error", "warning"]
#: ``critical`` quarantines and counts toward a stream's ``critical_fail_pct``; ``error``
#: quarantines; ``warning`` is reported only (the row is published)
SEVERITIES: tuple[Severity, ...] = ("critical", "error", "warning")
QUARANTINING: frozenset[str] = frozenset({"critical", "error"})
#: Great Expectations' own severity field for each hub severity
GX_SEVERITY: Mapping[str, str] = {"critical": "critical", "error": "warning", "warning": "info"}
Stage = Literal["source", "mapping", "row", "key"]
STAGES: tuple[Stage, ...] = ("source", "mapping", "row", "key")

RULE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
EXPECTATION_TYPE = re.compile(r"^expect_[a-z0-9_]+$")


@dataclass(frozen=True)
class FieldRef:
    """Marks a parameter that names a field (or, on a tuple, fields) of the entity.

    ``types``: the field type families allowed (``date``, ``decimal`` …; empty: any).
    """

    types: tuple[str, ...] = ()


#: a parameter naming one field of any type
AnyField = Annotated[str, FieldRef()]
#: a parameter naming a date or timestamp field
DateField = Annotated[str, FieldRef(("date", "timestamp"))]


class RuleParams(BaseModel):
    """Base of every rule's parameters model: unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def field_params(cls) -> tuple[tuple[str, FieldRef, bool], ...]:
        """``(name, FieldRef, is_list)`` of each parameter naming field(s), in order."""
        out = []
        for name, info in cls.model_fields.items():
            refs = [m for m in info.metadata if isinstance(m, FieldRef)]
            if refs:
                origin = getattr(info.annotation, "__origin__", None)
                out.append((name, refs[0], origin in (tuple, list)))
        return tuple(out)

    @classmethod
    def value_params(cls) -> tuple[str, ...]:
        """Names of the parameters that are values, not fields (``regex``, ``code_list`` …)."""
        fields = {name for name, _, _ in cls.field_params()}
        return tuple(n for n in cls.model_fields if n not in fields)


class ColumnParams(RuleParams):
    """The parameters of a rule on one field: the field."""

    column: AnyField


P = TypeVar("P", bound=RuleParams)


@dataclass(frozen=True)
class Verdict:
    """A predicate's answer for the rows it was given."""

    #: bool without nulls, True where the row fails the rule
    mask: pa.Array
    #: string, the value(s) shown to stewards for each row (used where ``mask`` is True)
    offending: pa.Array


@dataclass(frozen=True)
class Scope:
    """What a rule declaration is checked against: one entity and what the standard names.

    Built from a loaded standard (:meth:`of`) or, by the standard checker, from the raw
    YAML documents before the standard is built.
    """

    entity: str
    #: field name -> field type (``date``, ``decimal(18,2)`` …)
    fields: Mapping[str, str]
    #: code list name -> version
    code_lists: Mapping[str, str] = field(default_factory=dict)
    #: entity name -> its field names (for references to other entities)
    entities: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, entity: Entity, standard: Standard) -> Scope:
        """The scope of ``entity`` in a loaded ``standard``."""
        return cls(entity.name, {f.name: f.type for f in entity.fields},
                   {name: cl.version for name, cl in standard.code_lists.items()},
                   {name: frozenset(e.field_names) for name, e in standard.entities.items()})


def type_family(field_type: str) -> str:
    """``decimal(18,2)`` → ``decimal``; other types unchanged."""
    return field_type.split("(", 1)[0].strip()


@dataclass
class RuleContext:
    """What predicates need beyond their columns.

    ``references``: (entity, field) -> the values a reference may point at (None: not
    available, nothing can be judged). ``key_memory``: keys seen by earlier batches of the
    same stream, per key rule and columns; None (Great Expectations, one-off checks) means
    each call judges its rows alone.
    """

    standard: Standard
    references: Mapping[tuple[str, str], pa.Array | None] = field(default_factory=dict)
    key_memory: dict[tuple[str, ...], SeenKeys] | None = None

    def reference(self, entity: str, field_name: str) -> pa.Array | None:
        """The values of ``entity.field_name`` a reference is checked against."""
        return self.references.get((entity, field_name))

    def memory(self, key: tuple[str, ...]) -> SeenKeys:
        """The keys seen so far for ``key`` (a fresh, empty memory without key memory)."""
        if self.key_memory is None:
            return SeenKeys()
        return self.key_memory.setdefault(key, SeenKeys())


class RuleBase:
    """What every registered rule has: an id, labels, a description and a severity."""

    #: the rule id written in quarantine files, suites and reports
    id: ClassVar[str]
    label_zh: ClassVar[str]
    label_en: ClassVar[str]
    #: one sentence: what fails the rule
    description: ClassVar[str]
    default_severity: ClassVar[Severity] = "error"
    #: the severities an expectation of this rule may have
    severities: ClassVar[tuple[Severity, ...]] = SEVERITIES
    stage: ClassVar[Stage] = "row"
    #: how a standard declares the rule (shown in the docs), e.g. "field: ``required: true``"
    declared_by: ClassVar[str] = "entity `rules:`"
    #: sort order of field-level rules within one field of a generated suite
    order: ClassVar[int] = 100

    #: where the rule comes from: ``builtin`` or ``<distribution> <version>`` (set on registration)
    origin: str = "builtin"

    @property
    def labels(self) -> str:
        """``中文 / English``."""
        return f"{self.label_zh} / {self.label_en}"


class RecordedRule(RuleBase):
    """A rule recorded where it happens (by a connector or the mapping); no predicate."""


class Rule(RuleBase, ABC, Generic[P]):
    """A rule with parameters and one vectorized predicate (see the module docstring).

    Subclasses set the class attributes and implement :meth:`predicate`; field-level rules
    also implement :meth:`from_field` (which field attributes declare them), entity-level
    ones :meth:`from_entity`.
    """

    params_model: ClassVar[type[RuleParams]]
    #: the Great Expectations expectation type that evaluates this rule
    expectation: ClassVar[str]
    #: for a rule over a list of fields: the expectation type used when the list has one
    #: field (Great Expectations' multi-column expectations need two or more columns)
    single_column_expectation: ClassVar[str | None] = None
    #: True when Great Expectations ships the expectation (the hub registers no class)
    gx_builtin: ClassVar[bool] = False
    #: the parameter whose field is reported in quarantine rows and suites
    reported: ClassVar[str] = "column"
    #: True only for rules about missing values (all others never see a null input)
    judges_nulls: ClassVar[bool] = False
    #: rules recorded by the mapping that an expectation of this rule also counts
    counts_also: ClassVar[tuple[str, ...]] = ()
    #: may be listed in an entity's ``rules:`` (field- and key-derived rules are not)
    declarable: ClassVar[bool] = True
    #: True: judged only among rows that passed every quarantining rule (``__candidate__``)
    candidates_only: ClassVar[bool] = False
    #: the entity attribute that declares a rule of the entity as a whole (e.g. ``key``)
    entity_attribute: ClassVar[str | None] = None

    # -- declaration ---------------------------------------------------------------------
    def from_field(self, f: Field, entity: Entity, standard: Standard) -> P | None:
        """The parameters when field ``f``'s attributes declare this rule (else None)."""
        return None

    def from_entity(self, entity: Entity, standard: Standard) -> P | None:
        """The parameters when the entity as a whole declares this rule (else None)."""
        return None

    def severity_for_field(self, f: Field) -> Severity:
        """Severity of the generated expectation on ``f``: a value the mapping cannot convert
        on a key field breaks identity (joins, deduplication), so it is critical there."""
        if self.stage == "mapping" and f.key:
            return "critical"
        return self.default_severity

    def check_params(self, params: P, scope: Scope) -> list[tuple[str, str]]:
        """Problems beyond field names and types, as ``(parameter, message)`` pairs."""
        return []

    # -- evaluation ----------------------------------------------------------------------
    @abstractmethod
    def predicate(self, columns: Sequence[pa.Array], params: P, ctx: RuleContext) -> Verdict:
        """Judge rows: ``columns`` are the frame's text columns in :meth:`columns` order."""

    # -- derived from the parameters model -----------------------------------------------
    def parse(self, raw: Mapping[str, object]) -> P:
        """Validated parameters (raises ``pydantic.ValidationError``)."""
        return cast(P, self.params_model.model_validate(dict(raw)))

    def columns(self, params: RuleParams) -> tuple[str, ...]:
        """The frame columns the predicate reads, in order."""
        out: list[str] = []
        for name, _, is_list in self.params_model.field_params():
            value = getattr(params, name)
            out.extend(value if is_list else [value])
        return tuple(out)

    def field(self, params: RuleParams) -> str:
        """The field reported for a failing row (``a,b`` for a compound key)."""
        value = getattr(params, self.reported)
        return ",".join(value) if isinstance(value, tuple | list) else str(value)

    @property
    def multi_column(self) -> bool:
        """False for a rule on one ``column`` (a GX column-map expectation)."""
        refs = self.params_model.field_params()
        return not (len(refs) == 1 and refs[0][0] == "column" and not refs[0][2])

    @property
    def expectation_types(self) -> tuple[str, ...]:
        """Every expectation type that evaluates this rule."""
        single = self.single_column_expectation
        return (self.expectation, single) if single else (self.expectation,)

    def expectation_for(self, params: RuleParams) -> str:
        """The expectation type of ``params`` (the one-column form where it applies)."""
        single = self.single_column_expectation
        return single if single and len(self.columns(params)) == 1 else self.expectation

    def uses_column_list(self, expectation_type: str) -> bool:
        """True when expectations of ``expectation_type`` name their fields in
        ``column_list`` (a GX multi-column expectation), False for ``column``."""
        return self.multi_column and expectation_type != self.single_column_expectation

    def to_kwargs(self, params: RuleParams) -> dict[str, Any]:
        """The expectation kwargs of ``params`` (``column`` or ``column_list`` + values)."""
        kwargs: dict[str, Any] = {}
        if self.uses_column_list(self.expectation_for(params)):
            kwargs["column_list"] = list(self.columns(params))
        elif self.multi_column:
            kwargs["column"] = self.columns(params)[0]
        else:
            kwargs["column"] = params.column  # type: ignore[attr-defined]
        for name in self.params_model.value_params():
            value = getattr(params, name)
            if value is not None:
                kwargs[name] = list(value) if isinstance(value, tuple) else value
        return kwargs

    def from_kwargs(self, kwargs: Mapping[str, object]) -> dict[str, object]:
        """Raw parameters from expectation kwargs (the inverse of :meth:`to_kwargs`).

        Raises ``ValueError`` when the columns do not fit the rule's parameters.
        """
        raw: dict[str, object] = {k: kwargs[k] for k in self.params_model.value_params()
                                  if k in kwargs}
        refs = self.params_model.field_params()
        if not self.multi_column:
            if "column" in kwargs:
                raw["column"] = kwargs["column"]
            return raw
        if "column" in kwargs and self.single_column_expectation:
            raw[refs[0][0]] = (kwargs["column"],)
            return raw
        cols = kwargs.get("column_list")
        if not isinstance(cols, list | tuple):
            return raw
        if len(refs) == 1 and refs[0][2]:
            raw[refs[0][0]] = tuple(cols)
            return raw
        if len(cols) != len(refs):
            names = ", ".join(name for name, _, _ in refs)
            raise ValueError(f"column_list needs {len(refs)} columns ({names}), got {len(cols)}")
        raw.update({name: col for (name, _, _), col in zip(refs, cols, strict=True)})
        return raw

    def describe_params(self) -> list[str]:
        """One line per parameter for the docs: name, what it is, the default."""
        lines = []
        for name, info in self.params_model.model_fields.items():
            refs = [m for m in info.metadata if isinstance(m, FieldRef)]
            if refs:
                kind = "field" + (f" ({'/'.join(refs[0].types)})" if refs[0].types else "")
            else:
                kind = "value"
            default = "" if info.is_required() else f" = {info.default!r}"
            doc = f": {info.description}" if info.description else ""
            lines.append(f"{name} ({kind}){default}{doc}")
        return lines


def quarantines(severity: str) -> bool:
    """True when rows failing an expectation of ``severity`` are quarantined."""
    return severity in QUARANTINING


def most_severe(severities: Iterable[str]) -> Severity:
    """The most severe of ``severities`` (``critical`` > ``error`` > ``warning``)."""
    ranked = sorted(severities, key=SEVERITIES.index)
    return cast(Severity, ranked[0]) if ranked else "warning"

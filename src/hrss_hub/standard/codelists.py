"""Code lists, administrative divisions and contribution-base bounds of the standard.

Each class is built from checked YAML (see :mod:`hrss_hub.standard.check`) and offers
scalar look-ups for Python callers plus vectorized Arrow versions for the hot path: a
batch is mapped with ``pc.index_in`` against a prebuilt value set and ``take`` on the
matching targets, never with a per-row Python loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

#: A column: a single array or a chunked one (results keep the kind of the input).
ArrayLike: TypeAlias = "pa.Array | pa.ChunkedArray"

#: Arrow type of bounds (yuan, 2 decimals).
BOUND_TYPE = pa.decimal128(18, 2)


@dataclass(frozen=True)
class CodeLabel:
    """The bilingual labels of one code."""

    zh: str
    en: str
    description: str = ""


def _as_strings(arr: ArrayLike) -> ArrayLike:
    """Cast any input column to trimmed UTF-8 text (numbers → their decimal text)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.utf8_trim_whitespace(arr)


@dataclass(frozen=True)
class CodeList:
    """A code list: canonical codes with labels, input aliases and deprecated codes.

    Accepted inputs, in order of precedence: the codes themselves, the aliases, the
    Chinese labels, then the English labels (exact match after trimming whitespace).
    """

    name: str
    label_zh: str
    label_en: str
    code_system: str
    version: str
    codes: Mapping[str, CodeLabel]
    aliases: Mapping[str, str] = field(default_factory=dict)
    deprecated: frozenset[str] = frozenset()
    description: str = ""

    @cached_property
    def _lookup(self) -> dict[str, str]:
        table: dict[str, str] = {code: code for code in self.codes}
        for alias, code in self.aliases.items():
            table.setdefault(alias, code)
        for code, label in self.codes.items():
            table.setdefault(label.zh, code)
        for code, label in self.codes.items():
            if label.en:
                table.setdefault(label.en, code)
        return table

    @cached_property
    def _arrays(self) -> tuple[pa.Array, pa.Array, pa.Array]:
        inputs = pa.array(list(self._lookup), pa.string())
        targets = pa.array(list(self._lookup.values()), pa.string())
        codes = pa.array(list(self.codes), pa.string())
        return inputs, targets, codes

    def map_value(self, value: object) -> str | None:
        """The code for one input value (code, alias or label); None if unknown or empty."""
        if value is None:
            return None
        return self._lookup.get(str(value).strip())

    def map_array(self, arr: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """Map a column onto codes, vectorized.

        Returns ``(codes, unknown)``: the code of each value (null where the input is null,
        blank or unknown) and a boolean mask that is true exactly where the input held a
        non-blank value that is neither a code, an alias nor a label.
        """
        inputs, targets, _ = self._arrays
        text = _as_strings(arr)
        idx = pc.index_in(text, value_set=inputs)
        codes = pc.take(targets, idx)
        present = pc.and_kleene(pc.is_valid(text), pc.not_equal(text, ""))
        unknown = pc.fill_null(pc.and_kleene(present, pc.is_null(idx)), False)
        return codes, unknown

    def is_valid_array(self, arr: ArrayLike) -> ArrayLike:
        """True where the value is a canonical code (or null: missing is not invalid)."""
        _, _, codes = self._arrays
        text = arr if pa.types.is_string(arr.type) else arr.cast(pa.string())
        return pc.or_kleene(pc.is_null(text), pc.is_in(text, value_set=codes))

    def label(self, code: str, lang: str = "zh") -> str | None:
        """The label of a code in ``zh`` or ``en``; None for an unknown code."""
        entry = self.codes.get(code)
        if entry is None:
            return None
        return entry.en if lang == "en" else entry.zh


@dataclass(frozen=True)
class Division:
    """One GB/T 2260 administrative division (a code in force for a span of years)."""

    code: str
    name_zh: str
    level: str  # province | prefecture | county
    parent: str | None
    valid_from: int | None = None  # first year in force; None = before the 1980 list
    valid_to: int | None = None  # last year in force; None = still in force
    name_en: str = ""

    @property
    def is_current(self) -> bool:
        """Whether the code is still in force."""
        return self.valid_to is None


class Divisions:
    """The division tree, including retired codes (ID numbers keep their old address code)."""

    def __init__(self, divisions: Iterable[Division], *, code_system: str = "GB/T 2260",
                 version: str = "", label_zh: str = "行政区划",
                 label_en: str = "Administrative divisions") -> None:
        self.code_system = code_system
        self.version = version
        self.label_zh = label_zh
        self.label_en = label_en
        by_code: dict[str, list[Division]] = {}
        for div in divisions:
            by_code.setdefault(div.code, []).append(div)
        # a reused code: the most recent definition wins for look-ups
        self._by_code = {
            code: sorted(defs, key=lambda d: (d.valid_from or 0))[-1]
            for code, defs in by_code.items()
        }

    def __iter__(self) -> Iterator[Division]:
        return iter(sorted(self._by_code.values(), key=lambda d: d.code))

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Division | None:
        """The division with this code (the latest definition), or None."""
        return self._by_code.get(code)

    def is_known(self, code: str, include_historical: bool = True) -> bool:
        """Whether ``code`` is a division (optionally only one still in force)."""
        div = self._by_code.get(code)
        return div is not None and (include_historical or div.is_current)

    def codes(self, include_historical: bool = True) -> frozenset[str]:
        """Every division code (optionally only those still in force)."""
        return frozenset(c for c, d in self._by_code.items() if include_historical or d.is_current)

    def province_codes(self) -> frozenset[str]:
        """The codes of the provincial-level divisions in force."""
        return frozenset(c for c, d in self._by_code.items()
                         if d.level == "province" and d.is_current)

    def children(self, code: str | None) -> list[Division]:
        """Divisions whose parent is ``code`` (None: the provinces), sorted by code."""
        return [d for d in self if d.parent == code]

    def is_known_array(self, arr: ArrayLike, include_historical: bool = True) -> ArrayLike:
        """Vectorized :meth:`is_known`: true where the code is a division (null stays null)."""
        value_set = pa.array(sorted(self.codes(include_historical)), pa.string())
        text = arr if pa.types.is_string(arr.type) else arr.cast(pa.string())
        return pc.if_else(pc.is_null(text), pa.scalar(None, pa.bool_()),
                          pc.is_in(text, value_set=value_set))

    def as_code_list(self) -> CodeList:
        """The divisions as a plain code list (all codes, historical included)."""
        return CodeList(
            name="divisions", label_zh=self.label_zh, label_en=self.label_en,
            code_system=self.code_system, version=self.version,
            codes={d.code: CodeLabel(d.name_zh, d.name_en) for d in self},
            deprecated=frozenset(d.code for d in self if not d.is_current),
        )


@dataclass(frozen=True)
class BoundRow:
    """Contribution-base bounds for a division (prefix), year and insurance type."""

    division: str
    year: int
    insurance_type: str
    min: Decimal
    max: Decimal


def significant_prefix(division: str) -> str:
    """``510000`` → ``51``, ``510100`` → ``5101``, ``510107`` → ``510107``."""
    if division.endswith("0000"):
        return division[:2]
    if division.endswith("00"):
        return division[:4]
    return division


_PREFIX_LENGTHS = (6, 4, 2)  # longest first: the most specific row wins


class ContributionBounds:
    """The (division, year, insurance type) → [min, max] table of monthly bases (yuan).

    A row for ``510100`` applies to every code starting with ``5101``; a row for ``510000``
    to every code starting with ``51``. The longest matching prefix wins.
    """

    def __init__(self, rows: Iterable[BoundRow], *, currency: str = "CNY",
                 unit: str = "yuan per month", illustrative: bool = False) -> None:
        self.rows = tuple(rows)
        self.currency = currency
        self.unit = unit
        self.illustrative = illustrative
        self._table: dict[tuple[str, int, str], BoundRow] = {
            (significant_prefix(r.division), r.year, r.insurance_type): r for r in self.rows
        }

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, division: str, year: int,
               insurance_type: str) -> tuple[Decimal, Decimal] | None:
        """``(min, max)`` for a division, year and insurance type, or None if no row applies."""
        for length in _PREFIX_LENGTHS:
            row = self._table.get((division[:length], int(year), insurance_type))
            if row is not None:
                return row.min, row.max
        return None

    @cached_property
    def _level_arrays(self) -> dict[int, tuple[pa.Array, pa.Array, pa.Array]]:
        levels: dict[int, tuple[list[str], list[Decimal], list[Decimal]]] = {
            n: ([], [], []) for n in _PREFIX_LENGTHS}
        for (prefix, year, itype), row in self._table.items():
            keys, mins, maxs = levels[len(prefix)]
            keys.append(f"{prefix}|{year}|{itype}")
            mins.append(row.min)
            maxs.append(row.max)
        return {n: (pa.array(k, pa.string()), pa.array(lo, BOUND_TYPE), pa.array(hi, BOUND_TYPE))
                for n, (k, lo, hi) in levels.items()}

    def bounds_arrays(self, divisions: ArrayLike, years: ArrayLike,
                      insurance_types: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """Vectorized :meth:`lookup`: ``(min, max)`` as decimal(18,2), null where no row applies.

        ``years`` may be integers or text; all three inputs must have the same length.
        """
        div = _as_strings(divisions)
        year = _as_strings(years)
        itype = _as_strings(insurance_types)
        mins: list[Any] = []
        maxs: list[Any] = []
        for length in _PREFIX_LENGTHS:
            keys, lo, hi = self._level_arrays[length]
            probe = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(div, 0, length), year, itype, "|")
            idx = pc.index_in(probe, value_set=keys)
            mins.append(pc.take(lo, idx))
            maxs.append(pc.take(hi, idx))
        return pc.coalesce(*mins), pc.coalesce(*maxs)


def code_list_from_doc(doc: Mapping[str, Any]) -> CodeList:
    """Build a :class:`CodeList` from its checked YAML document."""
    codes = {
        str(code): CodeLabel(str(labels["zh"]), str(labels["en"]),
                             str(labels.get("description", "")))
        for code, labels in doc["codes"].items()
    }
    return CodeList(
        name=str(doc["name"]), label_zh=str(doc["label_zh"]), label_en=str(doc["label_en"]),
        code_system=str(doc["code_system"]), version=str(doc["version"]), codes=codes,
        aliases={str(k): str(v) for k, v in (doc.get("aliases") or {}).items()},
        deprecated=frozenset(str(c) for c in doc.get("deprecated") or ()),
        description=str(doc.get("description", "")),
    )


def divisions_from_doc(doc: Mapping[str, Any]) -> Divisions:
    """Build :class:`Divisions` from the checked ``codelists/divisions.yaml`` document."""
    return Divisions(
        (Division(code=str(r["code"]), name_zh=str(r["name_zh"]), level=str(r["level"]),
                  parent=r.get("parent"), valid_from=r.get("valid_from"),
                  valid_to=r.get("valid_to"), name_en=str(r.get("name_en") or ""))
         for r in doc["divisions"]),
        code_system=str(doc["code_system"]), version=str(doc["version"]),
        label_zh=str(doc["label_zh"]), label_en=str(doc["label_en"]),
    )


def bounds_from_doc(doc: Mapping[str, Any] | None) -> ContributionBounds:
    """Build :class:`ContributionBounds` from the checked bounds document (None: empty)."""
    if doc is None:
        return ContributionBounds(())
    rows = (BoundRow(str(r["division"]), int(r["year"]), str(r["insurance_type"]),
                     Decimal(str(r["min"])), Decimal(str(r["max"]))) for r in doc["rows"])
    return ContributionBounds(rows, currency=str(doc["currency"]), unit=str(doc["unit"]),
                              illustrative=bool(doc.get("illustrative", False)))

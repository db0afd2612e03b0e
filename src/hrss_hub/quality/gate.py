"""The row gate: every mapped row is published, quarantined (with reasons) or filtered.

The gate evaluates the entity's expectation suites (generated + hand-written) through the
rule registry, on the batch's validation frame (:mod:`.frame`), and each expectation's
severity decides what happens to the rows it flags: ``critical`` / ``error`` quarantine,
``warning`` is counted and reported but the row is published. Semantics are in
docs/mapping.md:

1. failures the mapping recorded (a value it could not convert, an empty required value)
   always quarantine — their typed value would be null. An expectation of such a rule on
   such a field counts those rows instead of evaluating its predicate again;
2. every other expectation runs its rule's predicate on the frame;
3. ``duplicate_key`` last, among the rows that passed every quarantining rule (first
   occurrence wins across the whole run of a stream: the gate keeps the keys it has seen).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.exchange.layout import SOURCE_UPDATED_AT, entity_schema
from hrss_hub.mapping.compile import Failure, MappedBatch, as_text
from hrss_hub.quality import checks
from hrss_hub.quality.frame import ROW_COLUMN, text_frame, with_candidates
from hrss_hub.quality.rules import (
    Rule,
    RuleContext,
    RuleParams,
    Severity,
    most_severe,
    quarantines,
    registry,
)
from hrss_hub.quality.suites import CANDIDATE_COLUMN, ExpectationSpec, Suite, generated_suite
from hrss_hub.standard.model import Entity, Standard

QUARANTINE_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("system", pa.string()),
    ("stream", pa.string()),
    ("entity", pa.string()),
    ("source_key", pa.string()),
    ("location", pa.string()),
    ("rules", pa.list_(pa.string())),
    ("fields", pa.list_(pa.string())),
    ("offending_values", pa.list_(pa.string())),
    ("record", pa.string()),  # the mapped row as JSON, for re-processing and review
])

#: an expectation of a suite: (suite name, index in the suite)
ExpectationKey = tuple[str, int]


@dataclass
class GateResult:
    """Verdicts of one batch."""

    published: pa.Table
    quarantined: pa.Table
    filtered: int
    #: quarantined rows per rule
    rule_counts: Counter[str]
    #: every quarantining failure of the batch (masks restricted to rows not filtered)
    failures: list[Failure] = field(default_factory=list)
    #: failures of ``warning`` expectations: counted and reported, the rows are published
    warnings: list[Failure] = field(default_factory=list)
    #: the validation frame the rules ran on (with ``__candidate__``)
    frame: pa.Table | None = None
    #: rows each expectation of the gate's suites flagged
    unexpected: dict[ExpectationKey, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Check:
    """One distinct evaluation (a rule with its parameters) and the expectations it answers."""

    rule: Rule[Any]
    params: RuleParams
    field: str
    severity: Severity
    candidates_only: bool
    expectations: tuple[ExpectationKey, ...]


def _plan(suites: Sequence[Suite]) -> list[_Check]:
    """The distinct rule evaluations of ``suites``: one per (rule, parameters, row scope);
    expectations sharing one are answered by it, at their most severe severity."""
    reg = registry()
    groups: dict[tuple[str, str, bool], list[tuple[ExpectationSpec, ExpectationKey]]] = {}
    for suite in suites:
        for spec in suite.expectations:
            # parameters as JSON: a plugin's parameters need not be hashable
            key = (spec.rule, spec.params.model_dump_json(), spec.candidates_only)
            groups.setdefault(key, []).append((spec, (suite.name, spec.index)))
    out = []
    for members in groups.values():
        first = members[0][0]
        rule = reg.get(first.rule)
        assert isinstance(rule, Rule), f"{first.rule} has no predicate"
        out.append(_Check(rule, first.params, first.field,
                          most_severe(spec.severity for spec, _ in members),
                          first.candidates_only, tuple(key for _, key in members)))
    # rules judged among candidates (the key) come last: the candidates are the rows every
    # other quarantining rule let through
    return sorted(out, key=lambda c: (c.candidates_only, c.rule.stage == "key"))


@dataclass
class RowGate:
    """Keeps per-stream state (seen keys) and turns mapped batches into verdicts.

    ``suites``: the entity's suites (default: its generated suite, from the standard);
    ``references``: values reference rules check against (see ``RuleContext``).
    """

    entity: Entity
    standard: Standard
    run_id: str
    system: str
    stream: str
    extracted_at: datetime
    suites: Sequence[Suite] | None = None
    references: Mapping[tuple[str, str], pa.Array | None] | None = None

    def __post_init__(self) -> None:
        self.schema = entity_schema(self.entity)  # lineage + source_updated_at
        if self.suites is None:
            self.suites = [generated_suite(self.entity, self.standard)]
        for suite in self.suites:
            if suite.entity != self.entity.name:
                raise ValueError(f"suite {suite.name} is for {suite.entity}, "
                                 f"not {self.entity.name}")
        self.checks = _plan(self.suites)
        self.ctx = RuleContext(self.standard, dict(self.references or {}), key_memory={})

    def evaluate(self, mb: MappedBatch) -> GateResult:
        """Split one mapped batch into published and quarantined rows."""
        n = mb.num_rows
        reg = registry()
        kept = pc.invert(pc.fill_null(mb.filtered, False))
        recorded = []
        for f in mb.failures:
            reg.get(f.rule, field=f.field)  # a rule id nobody registered is a bug: fail loudly
            recorded.append(Failure(f.rule, f.field, pc.and_(pc.fill_null(f.mask, False), kept),
                                    f.offending))
        frame = text_frame(mb, recorded, self.entity)
        rows = frame[ROW_COLUMN].to_numpy()
        keep = _bools(kept)
        failing = np.zeros(n, dtype=bool)
        for f in recorded:
            failing |= _bools(f.mask)
        failures, warnings = list(recorded), []
        unexpected: dict[ExpectationKey, int] = {}
        for check in self.checks:
            if check.candidates_only and CANDIDATE_COLUMN not in frame.column_names:
                frame = with_candidates(frame, pa.array(keep & ~failing))
            mask = self._recorded_mask(check, recorded)
            if mask is None:
                verdict = checks.evaluate(check.rule, check.params, frame, self.ctx,
                                          candidates_only=check.candidates_only)
                mask = np.zeros(n, dtype=bool)
                mask[rows] = _bools(verdict.mask)
                offending = _scatter(verdict.offending, rows, n)
                failure = Failure(check.rule.id, check.field, pa.array(mask), offending)
                if quarantines(check.severity):
                    failures.append(failure)
                    failing |= mask
                else:
                    warnings.append(failure)
            count = int(mask.sum())
            for key in check.expectations:
                unexpected[key] = count
        if CANDIDATE_COLUMN not in frame.column_names:
            frame = with_candidates(frame, pa.array(keep & ~failing))
        publish = pa.array(keep & ~failing)
        counts: Counter[str] = Counter()
        for f in failures:
            c = int(pc.sum(f.mask).as_py() or 0)
            if c:
                counts[f.rule] += c
        published = self._published(mb, publish)
        quarantined = self._quarantined(mb, pa.array(failing),
                                        [f for f in failures if f.rule in counts])
        filtered = int(pc.sum(pc.fill_null(mb.filtered, False)).as_py() or 0)
        return GateResult(published, quarantined, filtered, counts, failures, warnings, frame,
                          unexpected)

    @staticmethod
    def _recorded_mask(check: _Check, recorded: Sequence[Failure]) -> np.ndarray[Any, Any] | None:
        """The rows the mapping already recorded for a mapping-stage check's rule on its
        field (None: the mapping did not judge it; the predicate does)."""
        if check.rule.stage != "mapping":
            return None
        ids = registry().counted_by(check.rule.id)
        masks = [_bools(f.mask) for f in recorded if f.rule in ids and f.field == check.field]
        if not masks:
            return None
        out = masks[0].copy()
        for m in masks[1:]:
            out |= m
        return out

    def _published(self, mb: MappedBatch, mask: pa.Array) -> pa.Table:
        n = mb.num_rows
        lineage = {
            "source_system": _repeat(self.system, n),
            "source_key": mb.source_key,
            "run_id": _repeat(self.run_id, n),
            "extracted_at": pa.repeat(pa.scalar(self.extracted_at,
                                                pa.timestamp("us", tz="UTC")), n),
            # decides which record of a key wins (exchange/winner.py), after precedence
            SOURCE_UPDATED_AT: mb.source_updated_at,
        }
        arrays = []
        for f in self.schema:
            arr = mb.columns.get(f.name, lineage.get(f.name))
            if arr is None:
                arr = pa.nulls(n, f.type)
            arrays.append(arr.cast(f.type) if arr.type != f.type else arr)
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        return table.filter(mask)

    def _quarantined(self, mb: MappedBatch, failing: pa.Array,
                     failures: list[Failure]) -> pa.Table:
        taken = pc.indices_nonzero(failing)
        m = len(taken)
        if not m:
            return QUARANTINE_SCHEMA.empty_table()
        # one long table of (row, rule, field, value) for every failure, grouped into
        # per-row lists with offsets: no Python loop over rows
        position = _positions(mb.num_rows, taken)
        parts = []
        for order, f in enumerate(failures):
            rows = pc.indices_nonzero(f.mask)
            if not len(rows):
                continue
            k = len(rows)
            parts.append(pa.table({
                "pos": pc.take(position, rows),
                "order": pa.array(np.full(k, order, dtype=np.int64)),
                "rule": pa.array(np.full(k, f.rule, dtype=object), pa.string()),
                "field": pa.array(np.full(k, f.field, dtype=object), pa.string()),
                "value": pc.fill_null(pc.take(as_text(f.offending), rows), ""),
            }))
        long = pa.concat_tables(parts).sort_by([("pos", "ascending"), ("order", "ascending")])
        counts = np.bincount(long.column("pos").to_numpy(), minlength=m)
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))

        def lists(name: str) -> pa.Array:
            return pa.ListArray.from_arrays(offsets, long.column(name).combine_chunks())

        return pa.table({
            "run_id": _repeat(self.run_id, m),
            "system": _repeat(self.system, m),
            "stream": _repeat(self.stream, m),
            "entity": _repeat(self.entity.name, m),
            "source_key": pc.take(mb.source_key, taken),
            "location": pc.take(as_text(mb.location), taken),
            "rules": lists("rule"),
            "fields": lists("field"),
            "offending_values": lists("value"),
            "record": _json_records({k: pc.take(v, taken) for k, v in mb.columns.items()}),
        }).cast(QUARANTINE_SCHEMA)


def _bools(mask: pa.Array) -> np.ndarray[Any, Any]:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _scatter(values: pa.Array, rows: np.ndarray[Any, Any], n: int) -> pa.Array:
    """Frame-aligned ``values`` as a batch-length array (null on rows not in the frame)."""
    if len(rows) == n:
        return values
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows), dtype=np.int64)
    return pc.take(values, pa.array(position, mask=position < 0))


def _positions(n: int, taken: pa.Array) -> pa.Array:
    out = np.full(n, -1, dtype=np.int64)
    out[taken.to_numpy()] = np.arange(len(taken), dtype=np.int64)
    return pa.array(out)


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _json_records(columns: dict[str, pa.Array]) -> pa.Array:
    """Each row as a JSON object of its mapped values (as strings), built with Arrow
    string kernels rather than ``json.dumps`` per row."""
    pieces = []
    for name, arr in columns.items():
        text = pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr
        for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
                         ("\t", "\\t")):
            text = pc.replace_substring(text, old, new)
        quoted = pc.binary_join_element_wise('"', text, '"', "")
        value = pc.fill_null(quoted, "null")
        pieces.append(pc.binary_join_element_wise(json.dumps(name, ensure_ascii=False) + ":",
                                                  value, ""))
    body = pc.binary_join_element_wise(*pieces, ",") if len(pieces) > 1 else pieces[0]
    return pc.binary_join_element_wise("{", body, "}", "")


def rejects_table(rejects: list[tuple[str, str, str]], run_id: str, system: str, stream: str,
                  entity: str) -> pa.Table:
    """Quarantine rows for raw records a connector could not parse (``malformed_record``)."""
    m = len(rejects)
    return pa.Table.from_pydict({
        "run_id": [run_id] * m,
        "system": [system] * m,
        "stream": [stream] * m,
        "entity": [entity] * m,
        "source_key": [None] * m,
        "location": [r[0] for r in rejects],
        "rules": [["malformed_record"]] * m,
        "fields": [[""]] * m,
        "offending_values": [[r[1]] for r in rejects],
        "record": [json.dumps({"raw": r[2]}, ensure_ascii=False) for r in rejects],
    }, schema=QUARANTINE_SCHEMA)

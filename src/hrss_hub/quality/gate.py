"""The row gate: every mapped row is published, quarantined (with reasons) or filtered.

Semantics are in docs/mapping.md: parse failures and cross-field rules first, then
``duplicate_key`` among the rows that passed everything else (first occurrence wins across
the whole run of a stream, so the gate keeps the keys it has seen).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.mapping.compile import KEY_SEPARATOR, Failure, MappedBatch, as_text
from hrss_hub.quality.rules import evaluate_rules
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


@dataclass
class GateResult:
    """Verdicts of one batch."""

    published: pa.Table
    quarantined: pa.Table
    filtered: int
    rule_counts: Counter[str]
    #: every rule evaluated on the batch (masks restricted to kept rows), incl. duplicate_key:
    #: the validation frame and per-expectation counts (quality.frame) are built from them
    failures: list[Failure] = field(default_factory=list)


@dataclass
class RowGate:
    """Keeps per-stream state (seen keys) and turns mapped batches into verdicts."""

    entity: Entity
    standard: Standard
    run_id: str
    system: str
    stream: str
    extracted_at: datetime
    seen_keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.schema = self.entity.arrow_schema(include_lineage=True)

    def evaluate(self, mb: MappedBatch) -> GateResult:
        """Split one mapped batch into published and quarantined rows."""
        n = mb.num_rows
        failures = list(mb.failures) + evaluate_rules(mb, self.entity, self.standard)
        kept = pc.invert(mb.filtered)
        failing = pa.array([False] * n, pa.bool_())
        for f in failures:
            f.mask = pc.and_(pc.fill_null(f.mask, False), kept)
            failing = pc.or_(failing, f.mask)
        dup = self._duplicates(mb, pc.and_(kept, pc.invert(failing)))
        if dup is not None:
            failures.append(dup)
            failing = pc.or_(failing, dup.mask)
        publish = pc.and_(kept, pc.invert(failing))
        counts: Counter[str] = Counter()
        for f in failures:
            c = pc.sum(f.mask).as_py() or 0
            if c:
                counts[f.rule] += c
        published = self._published(mb, publish)
        quarantined = self._quarantined(mb, failing, [f for f in failures if f.rule in counts])
        filtered = pc.sum(mb.filtered).as_py() or 0
        return GateResult(published, quarantined, filtered, counts, failures)

    def _key(self, mb: MappedBatch) -> pa.Array | None:
        key_fields = [k for k in self.entity.key if k in mb.columns]
        if not key_fields:
            return None
        parts = [pc.fill_null(as_text(mb.columns[k]), "") for k in key_fields]
        return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, KEY_SEPARATOR)

    def _duplicates(self, mb: MappedBatch, candidates: pa.Array) -> Failure | None:
        key = self._key(mb)
        if key is None:
            return None
        # a Python set is the simplest correct structure across batches; this is one
        # hash probe per row, far below the cost of the Arrow kernels around it
        seen = self.seen_keys
        flags = []
        for k, cand in zip(key.to_pylist(), candidates.to_pylist(), strict=True):
            if not cand:
                flags.append(False)
            elif k in seen:
                flags.append(True)
            else:
                seen.add(k)
                flags.append(False)
        return Failure("duplicate_key", ",".join(self.entity.key), pa.array(flags, pa.bool_()), key)

    def _published(self, mb: MappedBatch, mask: pa.Array) -> pa.Table:
        n = mb.num_rows
        lineage = {
            "source_system": pa.array([self.system] * n, pa.string()),
            "source_key": mb.source_key,
            "run_id": pa.array([self.run_id] * n, pa.string()),
            "extracted_at": pa.array([self.extracted_at] * n, pa.timestamp("us", tz="UTC")),
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
        idx = pc.indices_nonzero(failing).to_pylist()
        if not idx:
            return QUARANTINE_SCHEMA.empty_table()
        taken = pa.array(idx, pa.int64())
        rows_rules: list[list[str]] = [[] for _ in idx]
        rows_fields: list[list[str]] = [[] for _ in idx]
        rows_values: list[list[str]] = [[] for _ in idx]
        for f in failures:
            mask = pc.take(f.mask, taken).to_pylist()
            values = pc.take(as_text(f.offending), taken).to_pylist()
            for i, (m, v) in enumerate(zip(mask, values, strict=True)):
                if m:
                    rows_rules[i].append(f.rule)
                    rows_fields[i].append(f.field)
                    rows_values[i].append("" if v is None else str(v))
        record_cols = {k: pc.take(v, taken).to_pylist() for k, v in mb.columns.items()}
        records = [
            json.dumps({k: _jsonable(v[i]) for k, v in record_cols.items()}, ensure_ascii=False)
            for i in range(len(idx))
        ]
        m = len(idx)
        return pa.Table.from_pydict({
            "run_id": [self.run_id] * m,
            "system": [self.system] * m,
            "stream": [self.stream] * m,
            "entity": [self.entity.name] * m,
            "source_key": pc.take(mb.source_key, taken),
            "location": pc.take(as_text(mb.location), taken),
            "rules": rows_rules,
            "fields": rows_fields,
            "offending_values": rows_values,
            "record": records,
        }, schema=QUARANTINE_SCHEMA)


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


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

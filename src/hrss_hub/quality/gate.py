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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub import keys
from hrss_hub.mapping.compile import Failure, MappedBatch, as_text
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
        failing = pa.repeat(pa.scalar(False), n)
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
        return keys.encode_columns([as_text(mb.columns[k]) for k in key_fields])

    def _duplicates(self, mb: MappedBatch, candidates: pa.Array) -> Failure | None:
        key = self._key(mb)
        if key is None:
            return None
        # an exact Python set of the run's keys: one probe per candidate row. Measured
        # against 128-bit numpy hashes in sorted arrays it is ~6x faster (0.5 s vs 3.1 s
        # per 1M keys) for ~100 MB more at 1M keys; exactness and speed win here.
        seen = self.seen_keys
        rows = np.flatnonzero(np.asarray(candidates.to_numpy(zero_copy_only=False), dtype=bool))
        flags = np.zeros(len(key), dtype=bool)
        for row, k in zip(rows.tolist(), key.take(pa.array(rows)).to_pylist(), strict=True):
            if k in seen:
                flags[row] = True
            else:
                seen.add(k)
        return Failure("duplicate_key", ",".join(self.entity.key), pa.array(flags), key)

    def _published(self, mb: MappedBatch, mask: pa.Array) -> pa.Table:
        n = mb.num_rows
        lineage = {
            "source_system": _repeat(self.system, n),
            "source_key": mb.source_key,
            "run_id": _repeat(self.run_id, n),
            "extracted_at": pa.repeat(pa.scalar(self.extracted_at,
                                                pa.timestamp("us", tz="UTC")), n),
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

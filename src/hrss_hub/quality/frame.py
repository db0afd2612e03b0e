"""The validation frame: what the expectation suites are evaluated on.

For one mapped batch: the rows not removed by a filter, every entity field in *canonical
text form* (ISO dates, ``YYYYMM`` periods, amounts as ``6785.00``, ``true``/``false``),
except where a parse rule fired — there the raw source text the mapping could not
canonicalize is kept, so a suite sees the bad value (an invalid citizen ID stays as
written instead of becoming null). Blank text is null (missing). Two helper columns:
``__candidate__`` (the row passed every rule except ``duplicate_key``: uniqueness is
judged among those, docs/mapping.md rule 4) and ``__row__`` (row index in the batch).
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.mapping.compile import Failure, MappedBatch, as_text
from hrss_hub.quality.suites import CANDIDATE_COLUMN
from hrss_hub.standard.model import Entity

ROW_COLUMN = "__row__"
#: rules whose ``offending`` value is the field's raw source text
PARSE_RULES = frozenset({"citizen_id_invalid", "uscc_invalid", "org_code_invalid",
                         "date_invalid", "period_invalid", "code_unmapped", "code_unknown",
                         "value_invalid"})


def canonical_text(arr: pa.Array) -> pa.Array:
    """A typed column as canonical text; blank strings become null."""
    text = pc.if_else(arr, "true", "false") if pa.types.is_boolean(arr.type) else as_text(arr)
    blank = pc.equal(pc.utf8_trim_whitespace(text), "")
    return pc.if_else(pc.fill_null(blank, False), pa.scalar(None, pa.string()), text)


def validation_frame(mb: MappedBatch, failures: Iterable[Failure], entity: Entity) -> pa.Table:
    """The frame of one batch (``failures``: the gate's, e.g. ``GateResult.failures``)."""
    failures = list(failures)
    kept = pc.invert(pc.fill_null(mb.filtered, False))
    columns: dict[str, pa.Array] = {}
    for f in entity.fields:
        columns[f.name] = canonical_text(mb.columns[f.name])
    failing = pa.array([False] * mb.num_rows, pa.bool_())
    for fail in failures:
        mask = pc.fill_null(fail.mask, False)
        if fail.rule != "duplicate_key":
            failing = pc.or_(failing, mask)
        if fail.rule in PARSE_RULES and fail.field in columns:
            raw = canonical_text(as_text(fail.offending))
            columns[fail.field] = pc.if_else(mask, raw, columns[fail.field])
    columns[CANDIDATE_COLUMN] = pc.and_(kept, pc.invert(failing))
    columns[ROW_COLUMN] = pa.array(range(mb.num_rows), pa.int64())
    return pa.table(columns).filter(kept)


def gate_counts(failures: Iterable[Failure]) -> dict[tuple[str, str], int]:
    """Rows per (rule, field) the gate flagged, among rows not filtered."""
    out: dict[tuple[str, str], int] = {}
    for f in failures:
        n = int(pc.sum(pc.fill_null(f.mask, False)).as_py() or 0)
        out[(f.rule, f.field)] = out.get((f.rule, f.field), 0) + n
    return out

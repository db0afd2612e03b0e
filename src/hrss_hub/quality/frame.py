"""The validation frame: what rules and expectation suites are evaluated on.

For one mapped batch: the rows not removed by a filter, every entity field in *canonical
text form* (ISO dates, ``YYYYMM`` periods, amounts as ``6785.00``, ``true``/``false``),
except where the mapping recorded a failure — there the raw source text the mapping could
not canonicalize is kept, so a rule sees the bad value (an invalid citizen ID stays as
written instead of becoming null). Blank text is null (missing). Two helper columns:
``__row__`` (row index in the batch) and, once the gate knows it, ``__candidate__`` (the row
passed every quarantining rule: uniqueness is judged among those, docs/mapping.md rule 4).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.mapping.compile import Failure, MappedBatch, as_text
from hrss_hub.quality.suites import CANDIDATE_COLUMN
from hrss_hub.standard.model import Entity

ROW_COLUMN = "__row__"


def canonical_text(arr: pa.Array) -> pa.Array:
    """A typed column as canonical text; blank strings become null."""
    text = pc.if_else(arr, "true", "false") if pa.types.is_boolean(arr.type) else as_text(arr)
    blank = pc.equal(pc.utf8_trim_whitespace(text), "")
    return pc.if_else(pc.fill_null(blank, False), pa.scalar(None, pa.string()), text)


def text_frame(mb: MappedBatch, recorded: Iterable[Failure], entity: Entity) -> pa.Table:
    """The frame of one batch without ``__candidate__``; ``recorded``: the failures the
    mapping recorded (``MappedBatch.failures``), whose offending text replaces the value."""
    kept = pc.invert(pc.fill_null(mb.filtered, False))
    columns: dict[str, pa.Array] = {}
    for f in entity.fields:
        columns[f.name] = canonical_text(mb.columns[f.name])
    for fail in recorded:
        if fail.field in columns:
            raw = canonical_text(as_text(fail.offending))
            columns[fail.field] = pc.if_else(pc.fill_null(fail.mask, False), raw,
                                             columns[fail.field])
    columns[ROW_COLUMN] = pa.array(np.arange(mb.num_rows, dtype=np.int64))
    return pa.table(columns).filter(kept)


def with_candidates(frame: pa.Table, candidates: pa.Array) -> pa.Table:
    """``frame`` plus ``__candidate__``, taken from a batch-length mask."""
    column = pc.take(candidates, frame[ROW_COLUMN])
    if CANDIDATE_COLUMN in frame.column_names:
        return frame.set_column(frame.schema.get_field_index(CANDIDATE_COLUMN),
                                CANDIDATE_COLUMN, column)
    return frame.append_column(CANDIDATE_COLUMN, column)

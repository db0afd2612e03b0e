"""Which record of an entity key wins: decided by the data, never by timing.

Between candidate records with the same entity key (from several systems, several runs,
the published table, or lower-level hubs) the winner is the first in this order:

1. **source precedence**: ``source_precedence`` in ``hub.yaml`` lists systems, earlier
   wins; systems not listed share one rank after the listed ones;
2. **the source's own update time** ``source_updated_at`` (newer wins; a record without
   one loses to a record with one) — so a correction in any unranked system wins;
3. ``source_system`` then ``source_key``, smallest first (records equal so far);
4. a **content hash** of the record's fields (SHA-256 of their canonical JSON), smallest
   first — computed only for candidates still tied, which is rare;
5. the extraction (``extracted_at``, then ``run_id``), earliest first: the candidates are
   then the same record read twice, and keeping the first reading keeps reruns no-ops.

Every criterion is a value of the record, so the same staged inputs give the same table
whatever order they are published in, split over however many runs (tested).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.exchange.layout import SOURCE_UPDATED_AT

#: columns that describe *when* a record was read, not what it says (not hashed)
READING_COLUMNS = ("run_id", "extracted_at")


@dataclass(frozen=True)
class WinRule:
    """The ordering of candidates; ``precedence`` is ``hub.yaml``'s source precedence."""

    precedence: tuple[str, ...] = ()

    @classmethod
    def of(cls, cfg: object) -> WinRule:
        """The rule of a hub config (``source_precedence``, read leniently until the
        config models carry it)."""
        value = getattr(cfg, "source_precedence", None) or ()
        return cls(tuple(str(v) for v in value))

    def describe(self) -> dict[str, Any]:
        """What manifests record about the rule."""
        return {"source_precedence": list(self.precedence),
                "order": ["source_precedence", "source_updated_at desc", "source_system",
                          "source_key", "content_sha256", "extracted_at", "run_id"]}


def _precedence_rank(table: pa.Table, precedence: Sequence[str]) -> pa.Array:
    systems = table["source_system"]
    if not precedence:
        return pa.array(np.zeros(table.num_rows, dtype=np.int32))
    index = pc.index_in(systems, value_set=pa.array(list(precedence), pa.string()))
    return pc.fill_null(index, len(precedence)).cast(pa.int32())


def _updated_desc(table: pa.Table) -> pa.Array:
    """``-source_updated_at`` as int64 microseconds with nulls sorting last."""
    n = table.num_rows
    if SOURCE_UPDATED_AT not in table.column_names:
        return pa.array(np.zeros(n, dtype=np.int64))
    col = table[SOURCE_UPDATED_AT].combine_chunks()
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("us", tz=col.type.tz))
    nulls = pc.is_null(col).to_numpy(zero_copy_only=False)
    values = pc.fill_null(pc.cast(col, pa.int64()), 0).to_numpy(zero_copy_only=False)
    out = -values.astype(np.int64)
    out[nulls] = np.iinfo(np.int64).max  # ascending sort: no update time sorts last
    return pa.array(out)


def content_hashes(table: pa.Table) -> list[str]:
    """SHA-256 of each row's canonical JSON (reading columns excluded)."""
    names = [n for n in table.column_names if n not in READING_COLUMNS
             and not n.startswith("__")]
    rows = table.select(names).to_pylist()
    return [hashlib.sha256(json.dumps(r, sort_keys=True, ensure_ascii=False,
                                      default=str).encode()).hexdigest() for r in rows]


def _ties(table: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """Mask of rows equal on ``columns`` to a neighbour (table sorted by them)."""
    n = table.num_rows
    same_prev = np.ones(max(n - 1, 0), dtype=bool)
    for name in columns:
        col = table[name].combine_chunks()
        cur, prev = col.slice(1), col.slice(0, n - 1)
        eq = pc.equal(cur, prev)
        both_null = pc.and_(pc.is_null(cur), pc.is_null(prev))
        eq = pc.or_(pc.fill_null(eq, False), both_null)
        same_prev &= eq.to_numpy(zero_copy_only=False)
    mask = np.zeros(n, dtype=bool)
    mask[1:] |= same_prev
    mask[:-1] |= same_prev
    return mask


def order(table: pa.Table, key: Sequence[str], rule: WinRule,
          hashes: Callable[[pa.Table], list[str]] = content_hashes) -> pa.Table:
    """``table`` sorted by key, then best candidate first (see the module docstring).

    ``hashes`` gives the content hashes of still-tied rows (default: of the rows as
    given; a caller holding narrow rows supplies the full records' hashes).
    """
    if table.num_rows == 0:
        return table
    work = table.append_column("__prec", _precedence_rank(table, rule.precedence))
    work = work.append_column("__upd", _updated_desc(table))
    work = work.append_column("__hash", pa.nulls(work.num_rows, pa.string()))
    first = [*key, "__prec", "__upd", "source_system", "source_key"]
    reading = [c for c in ("extracted_at", "run_id") if c in work.column_names]
    # one sort settles every key without ties; ties get their content hash and a resort
    sort_keys = [(c, "ascending") for c in [*first, *reading]]
    work = work.take(pc.sort_indices(work, sort_keys=sort_keys))
    tied = _ties(work, first)
    if tied.any():
        values = np.full(work.num_rows, "", dtype=object)
        idx = np.nonzero(tied)[0]
        values[idx] = hashes(work.take(pa.array(idx)))
        work = work.set_column(work.schema.get_field_index("__hash"), "__hash",
                               pa.array(values.tolist(), pa.string()))
        sort_keys = [(c, "ascending") for c in [*first, "__hash", *reading]]
        work = work.take(pc.sort_indices(work, sort_keys=sort_keys))
    return work.drop_columns(["__prec", "__upd", "__hash"])


def first_of_each_key(table: pa.Table, key: Sequence[str]) -> np.ndarray:
    """Boolean mask: True on the first row of each run of equal keys (table sorted by
    key; two nulls count as the same key)."""
    n = table.num_rows
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    mask[0] = True
    for k in key:
        col = table[k].combine_chunks()
        cur, prev = col.slice(1), col.slice(0, n - 1)
        differs = pc.not_equal(cur, prev)
        both_null = pc.and_(pc.is_null(cur), pc.is_null(prev))
        differs = pc.if_else(both_null, False, pc.fill_null(differs, True))
        mask[1:] |= differs.to_numpy(zero_copy_only=False)
    return mask


def winners(table: pa.Table, key: Sequence[str], rule: WinRule) -> pa.Table:
    """One row per key: the winner among ``table``'s candidates.

    Only the key and lineage columns are sorted; the winning rows are taken from
    ``table`` once (memory: about one copy of the candidates, not three).
    """
    if not key or table.num_rows == 0:
        return table
    cols = [c for c in (*key, "source_system", "source_key", SOURCE_UPDATED_AT,
                        *READING_COLUMNS) if c in table.column_names]
    narrow = table.select(list(dict.fromkeys(cols))).append_column(
        "__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))

    def hashes(tied: pa.Table) -> list[str]:
        return content_hashes(table.take(tied["__row"]))

    ordered = order(narrow, key, rule, hashes=hashes)
    best = ordered.filter(pa.array(first_of_each_key(ordered, key)))["__row"]
    return table.take(best)

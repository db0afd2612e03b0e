"""Merging record sets by entity key: the latest record of each key wins.

"Latest" is the highest ``extracted_at``; between equal timestamps the record from the
later input wins (inputs are given oldest first: the previous version, then each run's
staged files, or each lower-level hub). Lineage columns travel with the winning row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SEQ = "__hrss_seq"


@dataclass(frozen=True)
class MergeStats:
    """Counts for reconciliation: rows in, rows out, rows superseded by a newer record."""

    input_rows: int
    output_rows: int

    @property
    def superseded(self) -> int:
        """Rows dropped because a newer record with the same key exists."""
        return self.input_rows - self.output_rows


def latest_by_key(tables: list[pa.Table], key: tuple[str, ...], schema: pa.Schema,
                  order_column: str = "extracted_at") -> tuple[pa.Table, MergeStats]:
    """Concatenate ``tables`` (oldest first) and keep one row per ``key``."""
    parts = [t.select(schema.names).cast(schema) for t in tables if t.num_rows]
    if not parts:
        return schema.empty_table(), MergeStats(0, 0)
    table = pa.concat_tables(parts)
    n = table.num_rows
    if not key or n == 0:
        return table, MergeStats(n, n)
    table = table.append_column(_SEQ, pa.array(np.arange(n, dtype=np.int64)))
    sort_keys = [(k, "ascending") for k in key]
    if order_column in table.column_names:
        sort_keys.append((order_column, "descending"))
    sort_keys.append((_SEQ, "descending"))
    table = table.take(pc.sort_indices(table, sort_keys=sort_keys))
    first = _first_of_each_key(table, key)
    out = table.filter(first).drop_columns([_SEQ])
    return out, MergeStats(n, out.num_rows)


def _first_of_each_key(table: pa.Table, key: tuple[str, ...]) -> pa.Array:
    """Boolean mask: True on the first row of each run of equal keys (table is sorted)."""
    n = table.num_rows
    mask = np.zeros(n, dtype=bool)
    mask[0] = True
    for k in key:
        col = table[k].combine_chunks()
        cur, prev = col.slice(1), col.slice(0, n - 1)
        differs = pc.not_equal(cur, prev)
        # a null next to a value differs; two nulls count as the same key
        both_null = pc.and_(pc.is_null(cur), pc.is_null(prev))
        differs = pc.if_else(both_null, False, pc.fill_null(differs, True))
        mask[1:] |= differs.to_numpy(zero_copy_only=False)
    return pa.array(mask)

"""Reading exchange tables and outboxes: the current signed version, or time travel.

The hub's readers read the newest *signed* version (a Delta version whose manifest is
written; see :mod:`commit` for the one moment where the log is a version ahead), or any
kept version by number or by timestamp. With ``verify`` (the default) the version's
manifest signature, its commit digest and its file list are checked against the Delta
log before a byte of data is read; ``hrss-hub verify`` also re-hashes every file.

Plain readers need none of this: polars ``read_delta``, ``deltalake``'s pandas/pyarrow
readers, duckdb over the Arrow dataset and Spark read the same tables directly (README,
"Reading the exchange").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hrss_hub.errors import PublishError
from hrss_hub.exchange.commit import CommittedVersion, committed, latest_signed, manifest_versions
from hrss_hub.exchange.layout import sql_literal
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table

if TYPE_CHECKING:
    import pyarrow.dataset as ds

Version = int | str | datetime | None


def resolve(root: str | Path | Store, entity: str, version: Version = None, *,
            verify: bool = True) -> tuple[Table, Any, CommittedVersion]:
    """The table, a ``DeltaTable`` loaded at the wanted version, and its signed version.

    ``version``: a number, an ISO timestamp / ``datetime`` (the version current then), or
    ``None`` for the newest signed one.
    """
    table = Table(Store.open(root), entity)
    current = latest_signed(table)
    if current is None:
        raise PublishError("dataset has no published version", {
            "dataset": entity, "root": table.store.display()},
            "run `hrss-hub run` to publish one")
    if version is None:
        number = current.version
    elif isinstance(version, int):
        number = version
    else:
        number = int(table.open(version).version())
        number = min(number, current.version)
    if number not in manifest_versions(table):
        kept = ", ".join(str(v) for v in manifest_versions(table))
        raise PublishError(f"version {number} is not available", {"dataset": entity},
                           f"signed versions: {kept}")
    if verify:
        from hrss_hub.exchange.verify import verify_version

        report = verify_version(table, number, deep=False)
        if not report.ok:
            raise PublishError("dataset version failed verification: "
                               + "; ".join(report.problems),
                               {"dataset": entity, "version": number},
                               "do not use this data; republish or ask the publisher")
    return table, table.open(number), committed(table, number)


def dataset(root: str | Path | Store, entity: str, version: Version = None, *,
            divisions: Sequence[str] | None = None, verify: bool = True) -> ds.Dataset:
    """A ``pyarrow.dataset.Dataset`` over one version, with the standard's schema and the
    partition column (``divisions``: only the partitions of those division prefixes)."""
    table, dt, _ = resolve(root, entity, version, verify=verify)
    return _dataset(table, dt, divisions)


def _dataset(table: Table, dt: Any, divisions: Sequence[str] | None) -> ds.Dataset:
    predicate = None
    parts = list(dt.metadata().partition_columns)
    if divisions is not None and parts:
        wanted = sorted({p["__v"] for p in _partitions(dt, parts[0])
                         if p["__v"] is not None and any(str(p["__v"]).startswith(d)
                                                         for d in divisions)})
        if not wanted:
            predicate = f"`{parts[0]}` IS NULL AND `{parts[0]}` IS NOT NULL"
        else:
            predicate = f"`{parts[0]}` IN ({', '.join(sql_literal(w) for w in wanted)})"
    return table.dataset(dt, predicate)


def _partitions(dt: Any, column: str) -> list[dict[str, Any]]:
    return [{"__v": p.get(column)} for p in dt.partitions()]


def read_version(root: str | Path | Store, entity: str, version: Version = None, *,
                 columns: Sequence[str] | None = None,
                 divisions: Sequence[str] | None = None, verify: bool = True,
                 ledger: Any = None, actor: str = "python-api") -> pa.Table:
    """The rows of ``entity`` at ``version`` (default: current) as an Arrow table.

    With a ``ledger`` the read is appended to the audit chain (who read what).
    """
    table, dt, signed = resolve(root, entity, version, verify=verify)
    data = _dataset(table, dt, divisions).to_table(columns=list(columns) if columns else None)
    if divisions is not None:
        from hrss_hub.exchange.layout import division_column

        col = division_column(data.schema)
        if col is not None:
            data = data.filter(_prefix_mask(data[col], divisions))
    if ledger is not None:
        ledger.append_audit(actor, "read", f"{entity}@v{signed.version}",
                            {"root": table.store.display(), "rows": data.num_rows,
                             "columns": list(columns) if columns else "all",
                             "divisions": list(divisions) if divisions else "all"})
    return data


def read_changes(root: str | Path | Store, entity: str, starting_version: int,
                 ending_version: int | None = None,
                 columns: Sequence[str] | None = None) -> pa.Table:
    """The Change Data Feed of ``entity`` between two versions (inclusive): every
    inserted, deleted and updated row with ``_change_type`` and ``_commit_version``."""
    table = Table(Store.open(root), entity)
    dt = table.open()
    from hrss_hub.exchange.tables import plain_types

    reader = dt.load_cdf(starting_version=starting_version, ending_version=ending_version,
                         columns=list(columns) if columns else None)
    return plain_types(pa.table(reader))


def _prefix_mask(column: pa.ChunkedArray, prefixes: Sequence[str]) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    mask = None
    for p in prefixes:
        m = pc.fill_null(pc.starts_with(column, p), False)
        mask = m if mask is None else pc.or_(mask, m)
    assert mask is not None
    return mask

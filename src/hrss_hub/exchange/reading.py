"""Reading dataset versions (time travel by number) as Arrow tables or datasets.

A reader resolves ``CURRENT`` (or takes a version number), checks the manifest against
the pointer and its signature, and reads exactly the files the manifest lists, never a
folder listing: files of an unfinished publish are invisible by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from hrss_hub.errors import PublishError
from hrss_hub.exchange.commit import committed_versions, read_pointer
from hrss_hub.exchange.manifest import MANIFEST, parse_manifest, schema_from_json, version_dir
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.verify import verify_version

if TYPE_CHECKING:
    import pyarrow.dataset as ds


def resolve(root: str | Path | Store, entity: str, version: int | None = None,
            *, verify: bool = True) -> tuple[Store, dict[str, Any]]:
    """The store and the checked manifest of ``entity`` at ``version`` (default current)."""
    store = Store.open(root)
    pointer = read_pointer(store, entity)
    if pointer is None:
        raise PublishError("dataset has no published version", {"dataset": entity,
                           "root": store.display()}, "run `hrss-hub run` to publish one")
    number = pointer.version if version is None else version
    if number not in committed_versions(store, entity):
        kept = ", ".join(str(v) for v in committed_versions(store, entity))
        raise PublishError(f"version {number} is not available", {"dataset": entity},
                           f"kept versions: {kept}")
    expected = pointer.manifest_sha256 if number == pointer.version else None
    if verify:
        report = verify_version(store, entity, number, expected_sha256=expected, deep=True)
        if not report.ok:
            raise PublishError("dataset version failed verification: "
                               + "; ".join(report.problems),
                               {"dataset": entity, "version": number},
                               "do not use this data; republish or ask the publisher")
    rel = f"{entity}/{version_dir(number)}/{MANIFEST}"
    return store, parse_manifest(store.read_bytes(rel), store.display(rel))


def dataset(root: str | Path | Store, entity: str, version: int | None = None, *,
            divisions: Sequence[str] | None = None, verify: bool = True) -> ds.Dataset:
    """A ``pyarrow.dataset.Dataset`` over one version (``divisions``: only the files of
    those division prefixes, chosen from the manifest; rows are not filtered here)."""
    import pyarrow.dataset as ds  # imports pandas: only for callers who want a Dataset

    store, manifest, paths = _files(root, entity, version, divisions, verify)
    return ds.dataset(paths, schema=schema_from_json(manifest["schema"]), format="parquet",
                      filesystem=store.fs)


def _files(root: str | Path | Store, entity: str, version: int | None,
           divisions: Sequence[str] | None,
           verify: bool) -> tuple[Store, dict[str, Any], list[str]]:
    store, manifest = resolve(root, entity, version, verify=verify)
    folder = f"{entity}/{version_dir(int(manifest['version']))}"
    files = manifest["files"]
    if divisions is not None:
        files = [f for f in files if _division_matches(f, divisions)]
    return store, manifest, [store.path(f"{folder}/{f['path']}") for f in files]


def read_version(root: str | Path | Store, entity: str, version: int | None = None, *,
                 columns: Sequence[str] | None = None,
                 divisions: Sequence[str] | None = None, verify: bool = True,
                 ledger: Any = None, actor: str = "python-api") -> pa.Table:
    """The rows of ``entity`` at ``version`` (default: current) as an Arrow table.

    With a ``ledger`` the read is appended to the audit chain (who read what).
    """
    store, manifest, paths = _files(root, entity, version, divisions, verify)
    schema = schema_from_json(manifest["schema"])
    if columns:
        schema = pa.schema([schema.field(c) for c in columns])
    parts = []
    for path in paths:
        with store.fs.open_input_file(path) as fh:
            parts.append(pq.ParquetFile(fh).read(columns=schema.names).cast(schema))
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    if divisions is not None:
        from hrss_hub.exchange.writer import division_column

        col = division_column(table.schema)
        if col is not None and col in table.column_names:
            table = table.filter(_prefix_mask(table[col], divisions))
    if ledger is not None:
        ledger.append_audit(actor, "read", f"{entity}@v{manifest['version']}",
                            {"root": Store.open(root).display(), "rows": table.num_rows,
                             "columns": list(columns) if columns else "all",
                             "divisions": list(divisions) if divisions else "all"})
    return table


def _division_matches(entry: dict[str, Any], prefixes: Sequence[str]) -> bool:
    division = (entry.get("partition") or {}).get("division")
    if division is None:
        return "partition" not in entry  # unpartitioned files: filter rows instead
    return any(str(division).startswith(p) for p in prefixes)


def _prefix_mask(column: pa.ChunkedArray, prefixes: Sequence[str]) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    mask = None
    for p in prefixes:
        m = pc.fill_null(pc.starts_with(column, p), False)
        mask = m if mask is None else pc.or_(mask, m)
    assert mask is not None
    return mask

"""DuckDB over the published exchange: one connection with the hub's limits, each
published dataset a view over its newest signed version.

A local table's view is DuckDB's own ``read_parquet`` over exactly the data files of the
signed version (partition values added as text), so a check reads only the columns and
row groups it needs and DuckDB spills beyond ``memory_limit`` to ``temp_directory``
(hub.yaml ``duckdb:``). An Arrow-dataset scan is used for object stores only: DuckDB pushes
string filters into it that pyarrow cannot evaluate on files delta-rs rewrote in a MERGE
(``string`` vs ``string_view``), while DuckDB's Parquet reader has no such limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hrss_hub.config.sections import DuckdbSection
from hrss_hub.errors import QueryError
from hrss_hub.exchange.commit import latest_signed
from hrss_hub.exchange.reading import dataset, resolve
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table

if TYPE_CHECKING:
    import duckdb

    from hrss_hub.config import HubConfig


def duckdb_settings(cfg: HubConfig) -> DuckdbSection:
    """The validated ``duckdb:`` section of hub.yaml (defaults where unset)."""
    return DuckdbSection.model_validate(dict(cfg.duckdb))


def connect(cfg: HubConfig) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the hub's memory limit, threads and spill folder."""
    import duckdb

    settings = duckdb_settings(cfg)
    temp = settings.temp_directory
    if temp is None:
        base = cfg.state_dir if cfg.state_dir is not None else cfg.root / ".hrss-hub"
        temp_dir = base / "duckdb"
    else:
        temp_dir = Path(temp) if Path(temp).is_absolute() else cfg.root / temp
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={
        "memory_limit": settings.memory_limit, "threads": settings.threads,
        "temp_directory": str(temp_dir), "preserve_insertion_order": False})
    return con


#: row values in DuckDB's messages — single-quoted literals (``Could not convert string
#: '…'``) and any token of six or more letters and digits with four digits or more (an
#: ID, a phone) — and the value of a quoted pair (``Duplicate key "uid: …"``) never go
#: into an error, a log or the ledger
_VALUES = re.compile(r"'[^']*'|\b(?=(?:[0-9A-Za-z]*\d){4})[0-9A-Za-z]{6,}\b")
_QUOTED_PAIR = re.compile(r'"(\w+): [^"]*"')


def _without_values(message: str) -> str:
    return _VALUES.sub("?", _QUOTED_PAIR.sub(r'"\1: ?"', message))


def query_failure(cfg: HubConfig, step: str, exc: duckdb.Error) -> QueryError:
    """``exc`` from DuckDB during ``step`` as a :class:`QueryError`: its first line with
    row values removed, the step and the limits in the context, and what to do about it."""
    import duckdb

    settings = duckdb_settings(cfg)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    hint = None
    if isinstance(exc, duckdb.OutOfMemoryException):
        hint = (f"DuckDB needed more than duckdb.memory_limit ({settings.memory_limit}) for "
                "a step it cannot spill: raise duckdb.memory_limit in hub.yaml (or lower "
                "duckdb.threads); the staged rows are kept for the next run")
    return QueryError(f"{step} failed in DuckDB: {_without_values(first)}",
                      {"step": step, "memory_limit": settings.memory_limit,
                       "threads": settings.threads}, hint)


def register(con: duckdb.DuckDBPyConnection, store: Store, names: Iterable[str]) -> set[str]:
    """Register every dataset of ``names`` that has a signed version as a view of that
    name; returns the names registered."""
    found: set[str] = set()
    for name in sorted(set(names)):
        if latest_signed(Table(store, name)) is None:
            continue
        if store.is_local:
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {_parquet_sql(store, name)}')
        else:
            con.register(name, dataset(store, name))
        found.add(name)
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_sql(store: Store, name: str) -> str:
    """A SELECT over the signed version's files, columns in the table's order."""
    import pyarrow as pa

    table, dt, _ = resolve(store, name)
    schema = pa.schema(dt.schema().to_arrow())
    parts = list(dt.metadata().partition_columns)
    groups: dict[tuple[str | None, ...], list[str]] = {}
    for f in table.active_files(dt):
        values = tuple(f.partition.get(c) for c in parts)
        groups.setdefault(values, []).append(table.files.path(_unquote(f.path)))
    selects = []
    for values, files in sorted(groups.items(), key=lambda kv: str(kv[0])):
        extra = {c: ("NULL" if v is None else _literal(v)) for c, v in zip(parts, values,
                                                                           strict=True)}
        cols = ", ".join(f'CAST({extra[f.name]} AS VARCHAR) AS "{f.name}"' if f.name in extra
                         else f'"{f.name}"' for f in schema)
        listed = ", ".join(_literal(p) for p in files)
        selects.append(f"SELECT {cols} FROM read_parquet([{listed}], union_by_name = true)")
    if not selects:  # a version without rows: the empty table, typed like the schema
        cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{f.name}"' for f in schema)
        return f"SELECT {cols} WHERE false"
    return " UNION ALL ".join(selects)


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)

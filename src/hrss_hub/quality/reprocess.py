"""Quarantine review and re-processing.

Quarantine files are ``<quarantine_dir>/<run_id>/<system>/<stream>.parquet``. A row is
identified by ``(system, entity, row_key)`` with ``row_key`` = its source key (or its source
location for records the connector could not parse). Its status:

* ``released`` / ``rejected`` — a steward's latest decision in the ledger (who, why, when);
* ``resolved`` — a later run quarantined nothing under that key for the same stream, and the
  key was re-extracted (the source system fixed the record; incremental cursors pick up
  the changed row, and the gate re-evaluates it like any other);
* ``open`` — otherwise.

:func:`released_records` gives the released rows of a stream in the entity's schema so
the pipeline can publish them (fields a rule nulled stay null); :func:`decide` records a
decision in the ledger and the audit chain.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hrss_hub.errors import HubError


@dataclass
class QuarantinedRow:
    """One quarantined row with its current status."""

    run_id: str
    system: str
    stream: str
    entity: str
    row_key: str
    location: str
    rules: list[str]
    status: str = "open"
    file: str = ""
    ref: str = ""  # reference id (:func:`row_ref`), shown beside the masked key in reports

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def quarantine_path(qdir: Path, run_id: str, system: str, stream: str) -> Path:
    """Where the quarantine of one stream in one run lives (one file per (run, stream))."""
    return qdir / run_id / system / f"{stream}.parquet"


def quarantine_tmp(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (``.<name>.<hex>.tmp``: what a killed run
    leaves is removed by the next run, see ``run.leftovers``)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def write_quarantine(path: Path, table: pa.Table) -> None:
    """Write a quarantine file atomically: a temporary file, fsync, rename, fsync of the
    folder. A reader (and a killed writer) sees the old file, the new file, or none —
    never a truncated one. Writing the same (run, stream) again replaces it: idempotent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = quarantine_tmp(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        commit_quarantine(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def commit_quarantine(tmp: Path, path: Path) -> None:
    """Make the written, closed ``tmp`` the quarantine file ``path``: fsync, rename, fsync
    of the folder (also how ``quality.spool`` finishes a file it wrote batch by batch)."""
    from hrss_hub.run import crashpoints

    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    crashpoints.hit("quarantine.tmp_written")
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    crashpoints.hit("quarantine.renamed")


def quarantine_files(qdir: Path, run_id: str | None = None) -> list[Path]:
    """Quarantine files, oldest run first (run ids sort by time)."""
    pattern = f"{run_id}/*/*.parquet" if run_id else "*/*/*.parquet"
    return sorted(qdir.glob(pattern))


def row_ref(run_id: str, system: str, stream: str, row: int) -> str:
    """The reference id of row ``row`` (1-based) of a run's quarantine file of a stream.

    Reports show it beside the masked source key, and ``quarantine release|reject`` accept
    it in place of the key: positional, so it reveals nothing of the (raw) key.
    """
    return f"{run_id}/{system}/{stream}#{row}"


class QuarantineFileError(HubError):
    """A quarantine file cannot be read (truncated by a killed run of an old version)."""


def _unreadable(path: Path, exc: BaseException) -> QuarantineFileError:
    return QuarantineFileError(
        f"quarantine file is unreadable: {type(exc).__name__}: {str(exc).splitlines()[0]}",
        {"file": str(path)},
        "it was probably cut short by a killed run; `hrss-hub run` removes quarantine "
        "files of runs that never committed their stream, or move this file away")


def _read(path: Path, columns: list[str]) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise _unreadable(path, exc) from None


def _rows(path: Path) -> Iterator[QuarantinedRow]:
    cols = ["run_id", "system", "stream", "entity", "source_key", "location", "rules"]
    for n, r in enumerate(_read(path, cols).to_pylist(), 1):
        key = r["source_key"] or r["location"] or ""
        yield QuarantinedRow(r["run_id"], r["system"], r["stream"], r["entity"], key,
                             r["location"] or "", list(r["rules"] or []), file=str(path),
                             ref=row_ref(r["run_id"], r["system"], r["stream"], n))


def list_rows(cfg: Any, ledger: Any, run_id: str | None = None) -> list[QuarantinedRow]:
    """Quarantined rows (of one run, or all) with their status."""
    files = quarantine_files(cfg.quarantine_dir)
    rows: list[QuarantinedRow] = []
    latest: dict[tuple[str, str, str], str] = {}  # (system, stream, key) -> last run seen
    runs_by_stream: dict[tuple[str, str], list[str]] = {}
    for path in files:
        for row in _rows(path):
            latest[(row.system, row.stream, row.row_key)] = row.run_id
            runs_by_stream.setdefault((row.system, row.stream), [])
            if row.run_id not in runs_by_stream[(row.system, row.stream)]:
                runs_by_stream[(row.system, row.stream)].append(row.run_id)
            if run_id is None or row.run_id == run_id:
                rows.append(row)
    extracted = _extracted_keys(cfg)
    decisions: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        d = decisions.setdefault((row.system, row.entity),
                                 ledger.quarantine_decisions(row.system, row.entity))
        if row.row_key in d:
            row.status = {"release": "released", "reject": "rejected"}[d[row.row_key]]
        elif latest[(row.system, row.stream, row.row_key)] == row.run_id and \
                row.row_key in extracted.get((row.system, row.stream, row.run_id), set()):
            row.status = "resolved"
    return rows


def _extracted_keys(cfg: Any) -> dict[tuple[str, str, str], set[str]]:
    """Keys published by *later* runs, per (system, stream, earlier run): read from the
    published files' lineage columns (``source_system``, ``source_key``, ``run_id``)."""
    out: dict[tuple[str, str, str], set[str]] = {}
    root: Path | None = cfg.exchange_root
    if root is None or not root.exists():
        return out
    published: dict[str, list[tuple[str, str]]] = {}  # run -> [(system, key)]
    for path in root.rglob("*.parquet"):
        if ".staging" in path.parts:
            continue
        try:
            t = pq.read_table(path, columns=["source_system", "source_key", "run_id"])
        except (pa.ArrowInvalid, KeyError):
            continue
        for s, k, r in zip(t["source_system"].to_pylist(), t["source_key"].to_pylist(),
                           t["run_id"].to_pylist(), strict=True):
            published.setdefault(r, []).append((s, k))
    runs = sorted(published)
    for path in quarantine_files(cfg.quarantine_dir):
        q_run, system, stream = path.parent.parent.name, path.parent.name, path.stem
        later = {k for r in runs if r > q_run for s, k in published[r] if s == system}
        out[(system, stream, q_run)] = later
    return out


def decide(ledger: Any, row: QuarantinedRow, action: str, actor: str, reason: str) -> None:
    """Record a steward's ``release`` / ``reject`` (ledger + audit chain)."""
    if not actor or not reason:
        raise HubError("a decision needs who (--by) and why (--reason)",
                       {"row": row.row_key}, "e.g. --by zhang.wei --reason '已核实'")
    ledger.record_quarantine_action(row.run_id, row.system, row.entity, row.row_key, action,
                                    actor, reason)
    ledger.append_audit(actor, f"quarantine.{action}", f"{row.system}/{row.entity}/{row.row_key}",
                        {"run_id": row.run_id, "stream": row.stream, "rules": row.rules,
                         "reason": reason})


def released_records(cfg: Any, ledger: Any, system: str, stream: str,
                     entity: Any) -> pa.Table | None:
    """The released, not yet re-published rows of a stream as a table of the entity's
    fields (from the quarantine files' ``record`` column); None when there are none."""
    found = released_with_keys(cfg, ledger, system, stream, entity)
    return None if found is None else found[1]


def republished_prefix(system: str, entity: str) -> str:
    """Audit subject prefix of the ``quarantine.republished`` events of a system's entity."""
    return f"{system}/{entity}/"


def released_with_keys(cfg: Any, ledger: Any, system: str, stream: str, entity: Any,
                       skip: set[str] | frozenset[str] = frozenset()
                       ) -> tuple[list[str], pa.Table] | None:
    """Like :func:`released_records`, with each row's key, leaving out the keys in ``skip``
    (those already re-published). A value a rule had nulled is restored from the row's
    offending source value: the steward vouched for the record as written."""
    keys = {k for k, a in ledger.quarantine_decisions(system, entity.name).items()
            if a == "release" and k not in skip}
    if not keys:
        return None
    records: dict[str, dict[str, Any]] = {}
    for path in quarantine_files(cfg.quarantine_dir):
        if path.parent.name != system or path.stem != stream:
            continue
        t = _read(path, ["source_key", "location", "record", "fields", "offending_values"])
        for key, loc, rec, fields, values in zip(
                t["source_key"].to_pylist(), t["location"].to_pylist(), t["record"].to_pylist(),
                t["fields"].to_pylist(), t["offending_values"].to_pylist(), strict=True):
            k = key or loc
            if k in keys:
                record = json.loads(rec)  # the newest quarantine of a key wins
                for name, value in zip(fields or [], values or [], strict=True):
                    if name in record and record[name] is None and value:
                        record[name] = value
                records[k] = record
    if not records:
        return None
    schema = entity.arrow_schema(include_lineage=False)
    cols = {f.name: [r.get(f.name) for r in records.values()] for f in schema}
    strings = pa.table({k: pa.array([None if v is None else str(v) for v in vals], pa.string())
                        for k, vals in cols.items()})
    typed = pa.schema([pa.field(f.name, f.type, nullable=True) for f in schema])
    return list(records), _cast_lenient(strings, typed)


def _cast_lenient(strings: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast column by column; a value that does not fit its type (an impossible date a
    steward released) becomes null rather than failing the whole table."""
    import pyarrow.compute as pc

    columns = []
    for f in schema:
        col = strings.column(f.name)
        try:
            columns.append(pc.cast(col, f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            columns.append(pa.chunked_array(
                [pa.array([_try_cast(v, f.type) for v in col.to_pylist()], f.type)]))
    return pa.Table.from_arrays(columns, schema=schema)


def _try_cast(value: Any, type_: pa.DataType) -> Any:
    if value is None:
        return None
    try:
        return pa.scalar(value, pa.string()).cast(type_).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None

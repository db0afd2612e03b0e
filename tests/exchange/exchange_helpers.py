"""Small synthetic data and workspace helpers for the exchange tests (no demo world)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.staging import ParquetSink, publish_files
from hrss_hub.standard.model import Entity, load_standard


def person_entity() -> Entity:
    return load_standard().entity("person")


def citizen_id(division: str, i: int) -> str:
    """An 18-character ID-shaped value (GB 11643 check digit) unique per (division, i)."""
    body = f"{division}{date(1960, 1, 1) + timedelta(days=i % 15000):%Y%m%d}{i % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def persons(division: str, ids: range, *, run_id: str = "run-1", system: str = "si_core",
            minute: int = 0, name: str = "张三", updated: int | None = None) -> pa.Table:
    """Person rows in the exchange schema for ``ids`` living in ``division``; ``minute``
    is when they were extracted, ``updated`` (minutes) the source's own update time."""
    schema = entity_schema(person_entity())
    n = len(ids)
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    changed = None if updated is None else datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
        minutes=updated)
    cols = {
        "citizen_id": [citizen_id(division, i) for i in ids],
        "citizen_id_raw": [citizen_id(division, i) for i in ids],
        "id_type": ["01"] * n,
        "name": [f"{name}{i}" for i in ids],
        "gender": [str(1 + i % 2) for i in ids],
        "birth_date": [date(1960, 1, 1) + timedelta(days=i % 15000) for i in ids],
        "address_division": [division] * n,
        "phone": [f"138{i:08d}" for i in ids],
        "source_system": [system] * n,
        "source_key": [f"AC01|{division}|{i}" for i in ids],
        "run_id": [run_id] * n,
        "extracted_at": [at] * n,
        "source_updated_at": [changed] * n,
    }
    arrays = [pa.array(cols.get(f.name, [None] * n), f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def stage(exchange_root: Path, table: pa.Table, *, run_id: str = "run-1",
          system: str = "si_core", stream: str = "AC01", tag: str = "a",
          quality: dict[str, object] | None = None) -> None:
    """Stage ``table`` exactly as the pipeline does (ParquetSink + publish_files)."""
    entity = person_entity()
    schema = entity_schema(entity)
    sink = ParquetSink(exchange_root / ".staging" / run_id / entity.name,
                       f"{system}.{stream}.{tag}", schema)
    sink.write(table)
    publish_files(exchange_root, entity.name, schema, sink.close(), run_id=run_id,
                  system=system, stream=stream, standard_version="1.0.0",
                  hub={"hub_id": "t", "level": "district", "division": "510107"},
                  quality=quality)


def content_hash(table: pa.Table) -> str:
    """Order-independent hash of a table's rows (sorted by every column, then the Arrow
    IPC bytes hashed: cheap enough to poll)."""
    table = table.sort_by([(c, "ascending") for c in table.column_names])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def publish(root: Path, signer: object, **kwargs: object) -> int | None:
    """Publish what is staged under ``root`` (exchange = root); the new version or None."""
    from hrss_hub.exchange.pending import list_pending
    from hrss_hub.exchange.publish import publish_entity
    from hrss_hub.exchange.storage import Store

    v = publish_entity(Store.open(root), person_entity(), list_pending(root, "person"),
                       signer=signer,  # type: ignore[arg-type]
                       standard_version="1.0.0",
                       publisher={"hub_id": "t", "level": "district", "division": "510107"},
                       **kwargs)  # type: ignore[arg-type]
    return None if v is None else v.version


def manifest(root: Path, version: int, entity: str = "person") -> dict[str, object]:
    """The hub manifest of ``version``."""
    import json

    doc: dict[str, object] = json.loads(
        (root / entity / "_hrss" / "manifests" / f"{version:020d}.json").read_text("utf-8"))
    return doc

"""Dataset versions: merge by key, time travel, pruning, idempotent reruns, readers."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from exchange_helpers import content_hash, person_entity, persons, stage

from hrss_hub.errors import PublishError
from hrss_hub.exchange.commit import committed_versions, read_pointer
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.reading import dataset, read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.versions import publish_entity


def _publish(root: Path, signer: Signer, keep: int = 10) -> int | None:
    v = publish_entity(Store.open(root), person_entity(), list_pending(root, "person"),
                       signer=signer, standard_version="1.0.0",
                       publisher={"hub_id": "t", "level": "district", "division": "510107"},
                       keep=keep)
    return None if v is None else v.version


def test_versions_merge_by_key_and_time_travel(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(0, 100), run_id="r1"), run_id="r1")
    assert _publish(root, signer) == 1
    # run 2 updates ids 50..99 (newer extracted_at) and adds 100..149
    stage(root, persons("510107", range(50, 150), run_id="r2", minute=5, name="李四"),
          run_id="r2")
    assert _publish(root, signer) == 2
    v1, v2 = read_version(root, "person", 1), read_version(root, "person")
    assert (v1.num_rows, v2.num_rows) == (100, 150)
    rows = {r["citizen_id"]: r for r in v2.to_pylist()}
    assert len(rows) == 150  # no duplicate keys
    updated = [r for r in rows.values() if r["run_id"] == "r2"]
    assert len(updated) == 100 and all(r["name"].startswith("李四") for r in updated)
    manifest = json.loads((root / "person" / "v2" / "_manifest.json").read_text())
    assert manifest["rows"] == 150 and manifest["previous"]["version"] == 1
    assert manifest["lineage"]["runs"] == ["r1", "r2"]
    assert manifest["lineage"]["merge"] == {"input_rows": 200, "output_rows": 150,
                                            "superseded": 50}
    assert manifest["publisher"]["hub_id"] == "t" and manifest["standard_version"] == "1.0.0"
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in manifest["files"])
    assert not list_pending(root, "person")  # consumed


def test_rerun_does_not_publish_twice(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(10)))
    assert _publish(root, signer) == 1
    assert _publish(root, signer) is None  # nothing staged
    # a crash after the pointer swap leaves absorbed files staged: they are cleared, not merged
    stage(root, persons("510107", range(10)))
    assert _publish(root, signer) is None
    assert not list_pending(root, "person")
    assert read_pointer(Store.open(root), "person").version == 1


def test_keep_versions_prunes_old_ones(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    for i in range(5):
        stage(root, persons("510107", range(i, i + 3), run_id=f"r{i}", minute=i), run_id=f"r{i}")
        _publish(root, signer, keep=2)
    assert committed_versions(Store.open(root), "person") == [4, 5]
    with pytest.raises(PublishError, match="version 1 is not available"):
        read_version(root, "person", 1)


def test_uncommitted_version_folder_is_invisible_and_replaced(tmp_path: Path,
                                                              signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(10)))
    _publish(root, signer)
    debris = root / "person" / "v2"
    debris.mkdir()
    (debris / "part-510107-0000.parquet").write_bytes(b"half a file")
    assert read_version(root, "person").num_rows == 10
    with pytest.raises(PublishError):
        read_version(root, "person", 2)
    stage(root, persons("510107", range(10, 12), run_id="r2", minute=1), run_id="r2")
    assert _publish(root, signer) == 2
    assert read_version(root, "person").num_rows == 12


def test_outputs_are_deterministic(tmp_path: Path, signer: Signer) -> None:
    hashes = []
    for name in ("a", "b"):
        root = tmp_path / name
        stage(root, persons("510107", range(30)))
        stage(root, persons("510107", range(20, 40), run_id="r2", minute=1), run_id="r2")
        _publish(root, signer)
        hashes.append(content_hash(read_version(root, "person")))
        parts = sorted((root / "person" / "v1").glob("*.parquet"))
        hashes.append(",".join(p.name for p in parts))
    assert hashes[0] == hashes[2] and hashes[1] == hashes[3]


def test_division_parts_and_plain_readers(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(20)))
    stage(root, persons("510104", range(15)), tag="b")
    _publish(root, signer)
    folder = root / "person" / "v1"
    assert sorted(p.name for p in folder.glob("*.parquet")) == [
        "part-510104-0000.parquet", "part-510107-0000.parquet"]
    glob = str(folder / "*.parquet")
    assert duckdb.sql(f"select count(*), min(typeof(address_division)) from '{glob}'"
                      ).fetchall() == [(35, "VARCHAR")]
    assert len(pd.read_parquet(folder)) == 35
    assert pl.read_parquet(glob).height == 35
    assert pq.read_table(folder).schema.field("address_division").type == "string"
    assert read_version(root, "person", divisions=["510104"]).num_rows == 15
    assert dataset(root, "person", divisions=["510107"]).count_rows() == 20

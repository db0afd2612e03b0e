"""Exchange tables on Delta: one publish = one version, MERGE by key with the data-decided
winner, time travel by version and timestamp, reruns, plain Delta readers."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from exchange_helpers import content_hash, manifest, persons, publish, stage

from hrss_hub.errors import PublishError
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.reading import dataset, read_changes, read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.winner import WinRule
from hrss_hub.standard.model import load_standard


def test_versions_merge_by_key_and_time_travel(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(0, 100), run_id="r1", updated=0), run_id="r1")
    assert publish(root, signer) == 1  # version 0 is the table's creation
    # run 2: the source updated ids 50..99 (newer source_updated_at) and added 100..149
    stage(root, persons("510107", range(50, 150), run_id="r2", minute=5, name="李四",
                        updated=5), run_id="r2")
    assert publish(root, signer) == 2
    v1, v2 = read_version(root, "person", 1), read_version(root, "person")
    assert (v1.num_rows, v2.num_rows) == (100, 150)
    rows = {r["citizen_id"]: r for r in v2.to_pylist()}
    assert len(rows) == 150  # no duplicate keys
    updated = [r for r in rows.values() if r["run_id"] == "r2"]
    assert len(updated) == 100 and all(r["name"].startswith("李四") for r in updated)
    m = manifest(root, 2)
    assert m["rows"] == 150 and m["previous"]["version"] == 1  # type: ignore[index]
    assert m["operation"] == "publish" and m["lineage"]["runs"] == ["r2"]  # type: ignore[index]
    assert m["lineage"]["merge"] == {  # type: ignore[index]
        "input_rows": 100, "candidates": 100, "inserted": 50, "updated": 50,
        "unchanged": 0, "superseded": 0}
    assert m["publisher"]["hub_id"] == "t" and m["standard_version"] == "1.0.0"  # type: ignore[index]
    assert all(len(f["digest"]) == 64 and f["size"] > 0 for f in m["files"])  # type: ignore[attr-defined]
    assert m["commit"]["path"] == "_delta_log/00000000000000000002.json"  # type: ignore[index]
    assert not list_pending(root, "person")  # consumed
    # one publish = one Delta version; the log's CDF shows the 50 updates and 50 inserts
    assert DeltaTable(str(root / "person")).version() == 2
    changes = read_changes(root, "person", 2, 2)
    kinds = changes["_change_type"].to_pylist()
    assert kinds.count("insert") == 50 and kinds.count("update_postimage") == 50


def test_time_travel_by_timestamp(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(10), run_id="r1"), run_id="r1")
    publish(root, signer)
    time.sleep(1.1)
    between = datetime.now(UTC)
    time.sleep(1.1)
    stage(root, persons("510107", range(10, 15), run_id="r2"), run_id="r2")
    publish(root, signer)
    assert read_version(root, "person", version=between).num_rows == 10
    assert read_version(root, "person", version=between.isoformat()).num_rows == 10
    assert read_version(root, "person").num_rows == 15


def test_rerun_does_not_publish_twice(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(10)))
    assert publish(root, signer) == 1
    assert publish(root, signer) is None  # nothing staged
    # a crash after the commit leaves absorbed files staged: they are cleared, not merged
    stage(root, persons("510107", range(10)))
    assert publish(root, signer) is None
    assert not list_pending(root, "person")
    assert DeltaTable(str(root / "person")).version() == 1


def test_the_same_record_read_twice_changes_nothing(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(20), run_id="r1"), run_id="r1")
    publish(root, signer)
    # a full re-extraction (another run, later) of identical source records
    stage(root, persons("510107", range(20), run_id="r2", minute=9), run_id="r2")
    assert publish(root, signer) == 2
    m = manifest(root, 2)
    assert m["lineage"]["merge"]["unchanged"] == 20  # type: ignore[index]
    assert m["lineage"]["merge"]["updated"] == 0  # type: ignore[index]
    assert set(read_version(root, "person")["run_id"].to_pylist()) == {"r1"}


def _conflicting_inputs() -> list[tuple[str, pa.Table]]:
    """Candidates for the same 60 persons from two systems, with ties on every criterion
    in turn: precedence, update time, source key, content."""
    out = []
    for run, system, updated, name, minute in (
            ("a", "si_core", 10, "甲", 0), ("b", "jobs", 20, "乙", 1),
            ("c", "si_core", 30, "丙", 2), ("d", "si_core", 30, "丁", 3),
            ("e", "jobs", None, "戊", 4), ("f", "si_core", 30, "丙", 5)):
        t = persons("510107", range(60), run_id=f"r-{run}", system=system, minute=minute,
                    name=name, updated=updated)
        if run == "d":  # same update time as c, other source key: the key decides
            t = t.set_column(t.schema.get_field_index("source_key"), t.schema.field("source_key"),
                             pa.array([f"AC01|x|{i}" for i in range(60)]))
        out.append((run, t))
    return out


@pytest.mark.parametrize("precedence", [(), ("si_core", "jobs"), ("jobs",)])
def test_winner_is_decided_by_the_data_not_the_order(tmp_path: Path, signer: Signer,
                                                    precedence: tuple[str, ...]) -> None:
    """#16 point 4: the same staged inputs, published in different orders and split
    across runs differently, give identical tables."""
    rule = WinRule(precedence)
    inputs = _conflicting_inputs()
    hashes = set()
    for trial in range(4):
        rng = random.Random(trial)
        order = inputs[:]
        rng.shuffle(order)
        root = tmp_path / f"t{trial}"
        cut = rng.randint(0, len(order))
        for batch in (order[:cut], order[cut:]):  # split over two publishes
            for run, table in batch:
                stage(root, table, run_id=f"r-{run}", system=table["source_system"][0].as_py(),
                      tag=run)
            publish(root, signer, rule=rule)
        table = read_version(root, "person")
        assert table.num_rows == 60
        hashes.add(content_hash(table))
    assert len(hashes) == 1
    won = read_version(tmp_path / "t0", "person").to_pylist()
    names = {r["name"][:1] for r in won}
    # unlisted systems share one rank, so the newest update time (30, si_core) wins over
    # jobs' 20; the records tied at 30 go by source key, "AC01|510107|…" < "AC01|x|…",
    # and 丙 (read twice) keeps its first reading; with jobs first, its dated record (乙, 20)
    # beats its undated one and every si_core record
    if precedence == ("jobs",):
        assert names == {"乙"}
        assert {r["run_id"] for r in won} == {"r-b"}
    else:
        assert names == {"丙"}
        assert {r["run_id"] for r in won} == {"r-c"}


def test_person_moving_division_is_updated_not_duplicated(tmp_path: Path,
                                                          signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(30), updated=0))
    publish(root, signer)
    moved = persons("510107", range(5), run_id="r2", updated=9)
    moved = moved.set_column(moved.schema.get_field_index("address_division"),
                             "address_division", pa.array(["510104"] * 5))
    stage(root, moved, run_id="r2")
    publish(root, signer)
    table = read_version(root, "person")
    ids = table["citizen_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 30
    assert read_version(root, "person", divisions=["510104"]).num_rows == 5
    changes = read_changes(root, "person", 2, 2)
    assert sorted(changes["_change_type"].to_pylist()) == ["update_postimage"] * 5 + [
        "update_preimage"] * 5


def test_hive_partitions_and_plain_readers(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(20)))
    stage(root, persons("510104", range(15)), tag="b")
    publish(root, signer)
    folder = root / "person"
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("address")) == [
        "address_division=510104", "address_division=510107"]
    schema = entity_schema(load_standard().entity("person"))
    # polars (read_delta), pandas and pyarrow via deltalake, duckdb over the Arrow dataset
    frame = pl.read_delta(str(folder))
    assert frame.height == 35 and frame.columns == schema.names
    assert frame.schema["address_division"] == pl.String
    dt = DeltaTable(str(folder))
    assert dt.metadata().partition_columns == ["address_division"]
    assert len(dt.to_pandas()) == 35
    arrow = pa.table(dt.to_pyarrow_table())
    assert arrow.schema.names == schema.names
    assert [f.type for f in arrow.schema] == [f.type for f in schema]
    con = duckdb.connect()
    con.register("person", dt.to_pyarrow_dataset())
    assert con.sql("select count(*), min(typeof(address_division)) from person "
                   "where address_division = '510104'").fetchall() == [(15, "VARCHAR")]
    assert read_version(root, "person", divisions=["510104"]).num_rows == 15
    assert dataset(root, "person", divisions=["510107"]).count_rows() == 20


def test_unknown_version_is_a_clear_error(tmp_path: Path, signer: Signer) -> None:
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(3)))
    publish(root, signer)
    with pytest.raises(PublishError, match="version 7 is not available"):
        read_version(root, "person", 7)
    with pytest.raises(PublishError, match="no published version"):
        read_version(root, "employer")


def test_quality_block_describes_the_absorbed_runs(tmp_path: Path, signer: Signer) -> None:
    """#16 point 3: a version's quality names the runs whose rows it absorbed, with their
    own counts, not whichever run published it."""
    root = tmp_path / "exchange"
    stage(root, persons("510107", range(17), run_id="si-run", system="si_core"),
          run_id="si-run", system="si_core",
          quality={"read": 20, "published": 17, "quarantined": 3, "filtered": 0})
    stage(root, persons("510104", range(4), run_id="hr-run", system="personnel"),
          run_id="hr-run", system="personnel", stream="A01", tag="b",
          quality={"read": 4, "published": 4, "quarantined": 0, "filtered": 0})
    publish(root, signer)
    quality = manifest(root, 1)["quality"]
    assert quality["runs"] == ["hr-run", "si-run"]  # type: ignore[index]
    by_run = {c["run_id"]: c for c in quality["contributions"]}  # type: ignore[index]
    assert (by_run["si-run"]["read"], by_run["si-run"]["quarantined"],
            by_run["si-run"]["staged_rows"]) == (20, 3, 17)
    assert by_run["hr-run"]["system"] == "personnel" and by_run["hr-run"]["read"] == 4
    assert (quality["read"], quality["published"], quality["quarantined"]) == (  # type: ignore[index]
        24, 21, 3)
    json.dumps(quality)


def test_bucketed_publish_equals_in_memory(tmp_path: Path, signer: Signer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A publish too big for one bucket (spread to disk by key hash, decisions spilled,
    MERGE fed as a stream) gives exactly the table an in-memory publish gives."""
    from hrss_hub.exchange import buckets

    def run(root: Path) -> str:
        stage(root, persons("510107", range(300), run_id="r1", updated=0), run_id="r1")
        stage(root, persons("510104", range(200), run_id="r1", system="jobs", updated=2),
              run_id="r1", system="jobs", tag="j")
        publish(root, signer)
        stage(root, persons("510107", range(250, 400), run_id="r2", updated=5, name="李"),
              run_id="r2")
        stage(root, persons("510107", range(100), run_id="r2", system="jobs", updated=1),
              run_id="r2", system="jobs", tag="j")
        publish(root, signer)
        table = read_version(root, "person")
        ids = table["citizen_id"].to_pylist()
        assert len(ids) == len(set(ids))
        return content_hash(table)

    expected = run(tmp_path / "memory")
    monkeypatch.setattr(buckets, "BUCKET_ROWS", 64)
    assert buckets.bucket_count(500) == 8
    assert run(tmp_path / "buckets") == expected
    m = manifest(tmp_path / "buckets", 2)
    assert m["lineage"]["merge"]["updated"] > 0  # type: ignore[index]


def test_initial_publish_of_distinct_keys_streams_straight(tmp_path: Path, signer: Signer,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """An initial publish whose staged keys are all distinct skips the buckets and the
    winner sort, and publishes exactly what the winner path publishes; one shared key
    among the staged files sends it down the winner path."""
    from hrss_hub.exchange import buckets
    from hrss_hub.exchange import publish as publishing

    def run(root: Path, overlap: bool) -> str:
        stage(root, persons("510107", range(300), run_id="r1", updated=0), run_id="r1")
        other = range(290, 400) if overlap else range(300, 400)
        stage(root, persons("510107", other, run_id="r1", system="jobs", updated=2,
                            name="李"), run_id="r1", system="jobs", tag="j")
        publish(root, signer)
        table = read_version(root, "person")
        assert table.num_rows == 400
        m = manifest(root, 1)
        assert m["lineage"]["merge"]["inserted"] == 400  # type: ignore[index]
        return content_hash(table)

    real_spread = buckets.spread
    real_distinct = publishing._distinct_keys
    spread_calls: list[int] = []

    def spy(*args: object, **kwargs: object) -> list[Path]:
        spread_calls.append(1)
        return real_spread(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(buckets, "BUCKET_ROWS", 64)  # 400 rows: 7 buckets on the slow path
    monkeypatch.setattr(buckets, "spread", spy)
    straight = run(tmp_path / "straight", overlap=False)
    assert not spread_calls
    monkeypatch.setattr(publishing, "_distinct_keys", lambda *a: False)
    assert run(tmp_path / "winners", overlap=False) == straight
    assert spread_calls
    monkeypatch.setattr(publishing, "_distinct_keys", real_distinct)
    spread_calls.clear()
    shared = run(tmp_path / "shared", overlap=True)
    assert spread_calls  # a shared key: the winner path
    names = dict(zip(*[read_version(tmp_path / "shared", "person")[c].to_pylist()
                       for c in ("citizen_id", "name")], strict=True))
    assert sum(n.startswith("李") for n in names.values()) == 110  # the later update won
    assert shared != straight

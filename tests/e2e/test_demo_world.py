"""End to end: the demo world against its answer key, reruns, appends, real readers."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from hrss_hub.config import load_config
from hrss_hub.demo.generator import append_world, generate_world
from hrss_hub.demo_tour import run_demo
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.reading import read_version
from hrss_hub.standard.model import load_standard

PERSONS = 400


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("demo") / "world"
    generate_world(ws, persons=PERSONS, seed=7)
    return ws


def last_run(ws: Path) -> dict:
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(load_config(ws / "hub.yaml").ledger_url)
    try:
        run = ledger.recent_runs(1)[0]
        return dict(run.summary)
    finally:
        ledger.close()


def test_first_run_matches_the_answer_key(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(world, PERSONS, 7, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer_key"] == {"file": "answer_key.json", "matches": True, "differences": []}
    assert out["status"] == "succeeded"
    versions = {v["dataset"]: v["version"] for v in out["publishing"]["versions"]}
    # the five source entities, the payments and civil-status events (standard 1.1) and the
    # person master derived from them
    assert versions == dict.fromkeys(("person", "employer", "employment",
                                      "insurance_enrollment", "contribution",
                                      "benefit_payment", "civil_status_event",
                                      "person_master", "person_link"), 1)
    delivered = {(d["recipient"], d["dataset"]) for d in out["publishing"]["deliveries"]
                 if d["status"] == "delivered" and d["rows"] > 0}
    assert {("medical-insurance", "person"), ("civil-affairs", "employment"),
            ("city-510100", "person")} <= delivered


def test_published_data_conforms_and_is_readable(world: Path) -> None:
    std = load_standard()
    key = json.loads((world / "answer_key.json").read_text(encoding="utf-8"))
    exchange = world / "exchange"
    for entity in ("person", "employer", "employment", "insurance_enrollment", "contribution"):
        # each entity is a Delta table: the standard's schema (+ the nullable
        # source_updated_at lineage column) and its division as a Hive partition
        table = DeltaTable(str(exchange / entity))
        schema = pa.schema(table.schema().to_arrow())
        expected_schema = entity_schema(std.entity(entity))
        assert schema.names == expected_schema.names, entity
        assert [f.type for f in schema] == [f.type for f in expected_schema], entity
        assert table.metadata().partition_columns in (["division"], ["address_division"])
        con = duckdb.connect()
        con.register("t", table.to_pyarrow_dataset())
        n_duck = con.sql("SELECT count(*) FROM t").fetchall()[0][0]
        n_pandas = len(table.to_pandas())
        n_polars = pl.scan_delta(str(exchange / entity)).select(pl.len()).collect().item()
        n_api = read_version(exchange, entity).num_rows
        published = sum(s["published"] for streams in key["systems"].values()
                        for s in streams.values() if s["entity"] == entity)
        # a version holds the latest record per entity key across every system
        assert 0 < n_duck == n_pandas == n_polars == n_api <= published, entity
    persons = read_version(exchange, "person").num_rows
    employers = read_version(exchange, "employer").num_rows
    assert (persons, employers) == (key["distinct"]["persons"], key["distinct"]["employers"])


def test_every_quarantined_row_has_a_source_location(world: Path) -> None:
    files = list((world / "quarantine").glob("*/*/*.parquet"))
    assert files
    rows = pa_rows = 0
    for f in files:
        table = pq.read_table(f)
        rows += table.num_rows
        pa_rows += sum(1 for loc in table.column("location").to_pylist() if loc)
        assert all(table.column("rules").to_pylist())
    assert rows == pa_rows > 0


def test_second_run_adds_nothing(world: Path) -> None:
    assert run_demo(world, PERSONS, 7, quiet=True) == 0
    summary = last_run(world)
    for system in summary["systems"]:
        for s in system["streams"]:
            assert (s["published"], s["quarantined"]) == (0, 0), s


def test_append_is_picked_up_exactly(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    append_world(world, persons=60)
    assert run_demo(world, PERSONS, 7, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer_key"]["file"] == "answer_key_append_1.json"
    assert out["answer_key"]["matches"], out["answer_key"]["differences"]

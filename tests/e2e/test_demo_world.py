"""End to end: the demo world against its answer key, reruns, appends, real readers."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from hrss_hub.config import load_config
from hrss_hub.demo.generator import append_world, generate_world
from hrss_hub.demo_tour import run_demo
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


def test_published_data_conforms_and_is_readable(world: Path) -> None:
    std = load_standard()
    key = json.loads((world / "answer_key.json").read_text(encoding="utf-8"))
    exchange = world / "exchange"
    for entity in ("person", "employer", "employment", "insurance_enrollment", "contribution"):
        files = sorted((exchange / entity).glob("*.parquet"))
        assert files, entity
        schema = pq.read_schema(files[0])
        assert schema.remove_metadata() == std.entity(entity).arrow_schema().remove_metadata()
        glob = str(exchange / entity / "*.parquet")
        n_duck = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]
        n_pandas = len(pd.read_parquet(exchange / entity))
        n_polars = pl.scan_parquet(glob).select(pl.len()).collect().item()
        expected = sum(s["published"] for streams in key["systems"].values()
                       for s in streams.values() if s["entity"] == entity)
        assert n_duck == n_pandas == n_polars == expected, entity
    persons = duckdb.sql(
        f"SELECT count(DISTINCT citizen_id) FROM read_parquet('{exchange}/person/*.parquet')"
    ).fetchall()[0][0]
    employers = duckdb.sql(
        f"SELECT count(DISTINCT uscc) FROM read_parquet('{exchange}/employer/*.parquet')"
    ).fetchall()[0][0]
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

"""Derived rows staged by DuckDB's COPY have the files the Python sink wrote: the same
schema (types, order, nullability) and the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hrss_test_world import REPO, workspace

from hrss_hub.config import HubConfig
from hrss_hub.errors import QualityError
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.pending import list_pending
from hrss_hub.master.derived import BUILD_COLUMNS, stage_batches, stage_query
from hrss_hub.standard.model import load_standard

NOW = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
T1 = datetime(2024, 1, 1, tzinfo=UTC)
#: person_link rows: ``name`` set everywhere (DuckDB's statistics see no NULL in this
#: nullable column), ``phone`` NULL everywhere, the rest mixed
LINKS = {
    "record_entity": ["person", "person", "civil_status_event"],
    "record_system": ["si_core", "employment", "civil_register"],
    "record_key": ["1", "2", "3"], "citizen_id": ["A", "B", "A"],
    "link_rule": ["id18", "id15", "id18"],
    "match_probability": [None, Decimal("0.9731"), None],
    "name": ["陳國華", "李强", "王芳"], "gender": ["1", None, "2"],
    "birth_date": [date(1970, 1, 1), None, date(1965, 2, 3)], "phone": [None, None, None],
    "record_updated_at": [T1, None, T1], "division": ["510107", "510104", "510107"],
    "source_system": ["si_core", "employment", "civil_register"],
    "source_key": ["1", "2", "3"]}


def _con(data: pa.Table) -> duckdb.DuckDBPyConnection:
    """A connection with ``data`` as the table ``rows``: a DuckDB table, whose statistics
    know which columns hold no NULL."""
    con = duckdb.connect()
    con.register("data", data)
    con.execute("CREATE TABLE rows AS SELECT * FROM data")
    return con


def _stage_both(cfg: HubConfig, rows: dict[str, list[object]], entity_name: str
                ) -> tuple[pa.Table, pa.Table, pa.Schema, pa.Schema]:
    """The rows staged the old way (batches through ParquetSink) and by COPY."""
    entity = load_standard(REPO / "standards").entity(entity_name)
    schema = entity_schema(entity)
    fields = [f for f in schema if f.name not in BUILD_COLUMNS]
    con = _con(pa.table({f.name: pa.array(rows[f.name], f.type) for f in fields}))
    common = {"run_id": "r1", "system": "master", "standard_version": "1.1.0", "now": NOW}
    old = stage_batches(cfg, entity, con.sql("SELECT * FROM rows").to_arrow_reader(2),
                        stream="old", **common)
    new = stage_query(cfg, con, entity, "SELECT * FROM rows", stream="new", **common)
    assert old == new == len(rows["source_key"])
    assert cfg.exchange_root is not None
    files = {p.stream: p.path for p in list_pending(cfg.exchange_root, entity_name)}
    return (pq.read_table(files["old"]), pq.read_table(files["new"]),
            pq.read_schema(files["old"]), pq.read_schema(files["new"]))


def test_links_staged_by_copy_equal_the_sink_files(tmp_path: Path) -> None:
    old, new, old_schema, new_schema = _stage_both(workspace(tmp_path / "hub"), LINKS,
                                                   "person_link")
    assert new_schema.equals(old_schema)
    assert [(f.name, f.type, f.nullable) for f in new_schema] == [
        (f.name, f.type, f.nullable) for f in old_schema]
    assert new_schema.field("name").nullable  # though no row holds a NULL in it
    assert new.sort_by("record_key").equals(old.sort_by("record_key"))
    assert set(new["source_updated_at"].to_pylist()) == {NOW}


def test_master_rows_staged_by_copy_equal_the_sink_files(tmp_path: Path) -> None:
    rows: dict[str, list[object]] = {
        "citizen_id": ["A", "B"], "name": ["陳國華", None], "name_source": ["si_core", None],
        "gender": ["1", "2"], "gender_source": ["si_core", "si_core"],
        "birth_date": [date(1970, 1, 1), None], "birth_date_source": ["si_core", None],
        "phone": [None, None], "phone_source": [None, None],
        "division": ["510107", "510104"], "systems": ["si_core", "employment,si_core"],
        "records": [1, 2], "conflicts": [None, "gender"], "merged_into": [None, "A"],
        "source_system": ["master", "master"], "source_key": ["A", "B"]}
    old, new, old_schema, new_schema = _stage_both(workspace(tmp_path / "hub"), rows,
                                                   "person_master")
    assert [(f.name, f.type, f.nullable) for f in new_schema] == [
        (f.name, f.type, f.nullable) for f in old_schema]
    assert new.sort_by("citizen_id").equals(old.sort_by("citizen_id"))


def test_no_rows_stage_nothing(tmp_path: Path) -> None:
    cfg = workspace(tmp_path / "hub")
    entity = load_standard(REPO / "standards").entity("person_link")
    con = _con(pa.table({k: pa.array(v) for k, v in LINKS.items() if k != "match_probability"}))
    assert stage_query(cfg, con, entity, "SELECT * FROM rows WHERE false", run_id="r1",
                       system="master", stream="links", standard_version="1.1.0") == 0
    assert cfg.exchange_root is not None
    assert list_pending(cfg.exchange_root, "person_link") == []
    assert not (cfg.exchange_root / ".staging" / "r1").exists()


@pytest.mark.parametrize("column", ["citizen_id", "division"])
def test_a_row_lacking_a_required_value_is_refused(tmp_path: Path, column: str) -> None:
    cfg = workspace(tmp_path / "hub")
    entity = load_standard(REPO / "standards").entity("person_link")
    con = _con(pa.table({k: pa.array(v) for k, v in LINKS.items()}))
    con.execute(f'UPDATE rows SET "{column}" = NULL WHERE record_key = \'2\'')
    with pytest.raises(QualityError, match=f"required column.s. {column} \\["):
        stage_query(cfg, con, entity, "SELECT * FROM rows", run_id="r1", system="master",
                    stream="links", standard_version="1.1.0")
    assert cfg.exchange_root is not None
    assert list_pending(cfg.exchange_root, "person_link") == []

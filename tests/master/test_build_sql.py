"""The master SQL's single-link projection gives what the aggregate gives for those persons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from hrss_test_world import workspace

from hrss_hub.master.build import SINGLE_SQL, _aggregate_sql, master_sql

T1, T2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
#: (citizen, system, key, name, gender, birth date, phone, updated, division)
LINKS = [
    ("A", "si_core", "1", "陳國華", "1", date(1970, 1, 1), None, T1, "510107"),
    ("B", "si_core", "2", None, "2", None, "139", T1, "510104"),
    ("C", "si_core", "3", "李强", "1", date(1980, 5, 5), "138", T1, "510107"),
    ("C", "employment", "3", "李强", "2", date(1980, 5, 6), None, T2, "510104"),
    ("D", "employment", "4", "王芳", None, None, None, None, "510108"),
    ("D", "si_core", "4", "王芳", "2", date(1965, 2, 3), "137", T2, "510108"),
]


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return sorted(con.execute(sql).fetchall(), key=str)


def test_single_link_projection_equals_the_aggregate(tmp_path: Path) -> None:
    cfg = workspace(tmp_path / "hub")
    con = duckdb.connect()
    con.execute("CREATE TABLE links (citizen_id VARCHAR, record_system VARCHAR, "
                "record_key VARCHAR, name VARCHAR, gender VARCHAR, birth_date DATE, "
                "phone VARCHAR, record_updated_at TIMESTAMPTZ, division VARCHAR)")
    con.executemany("INSERT INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", LINKS)
    con.execute("CREATE TABLE affected AS SELECT DISTINCT citizen_id FROM links")
    con.execute("CREATE TABLE folded AS SELECT DISTINCT name, name AS name_folded FROM links")
    con.execute("CREATE TABLE merges AS SELECT 'B' AS citizen_id, 'A' AS merged_into")
    con.execute(f"CREATE TABLE single AS {SINGLE_SQL}")
    assert sorted(r[0] for r in con.execute("SELECT * FROM single").fetchall()) == ["A", "B"]
    joined = ("(SELECT l.*, f.name_folded, mg.merged_into FROM links l "
              "LEFT JOIN folded f ON f.name = l.name "
              "LEFT JOIN merges mg ON mg.citizen_id = l.citizen_id) l")
    fast = _rows(con, master_sql(cfg))
    assert fast == _rows(con, _aggregate_sql(cfg, joined))
    by_id = {r[0]: r for r in fast}
    assert by_id["B"][1:3] == (None, None)  # no name: no name source either
    assert by_id["B"][-1] == "A"  # merged
    assert by_id["C"][-2] == "birth_date,gender"  # conflicts of the two-link person
    assert by_id["A"][-3:] == (1, None, None)

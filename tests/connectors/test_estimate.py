"""Row estimates for progress bars (``estimate_rows``) of every connector kind, on real
sources: SQLite, PostgreSQL and MariaDB (COUNT with the read's cursor filter, statistics,
timeouts), CSV in UTF-8 and GBK and XLSX files (from sizes), the demo REST API (its total)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hrss_hub.connectors.base import ConnectorKind, State, estimate_rows
from hrss_hub.connectors.config import load_system, parse_system
from hrss_hub.connectors.files_csv import ESTIMATE_SAMPLE_BYTES
from hrss_hub.connectors.registry import create_connector
from hrss_hub.demo.generator import generate_world
from hrss_hub.demo.server import serving

T0 = dt.datetime(2024, 5, 1, 9, 0, 0)


def _rows_read(connector: Any, stream: str, state: State | None) -> tuple[int, State]:
    n, last = 0, dict(state or {})
    for chunk in connector.read(stream, state):
        n += chunk.batch.num_rows + len(chunk.rejects)
        last = chunk.state
    return n, last


# ------------------------------------------------------------------------------ sql


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'src.db'}"
    if request.param == "postgresql":
        return str(request.getfixturevalue("fresh_pg_database"))
    return str(request.getfixturevalue("mysql_url"))


@pytest.fixture
def staff(db_url: str) -> Iterator[tuple[sa.Engine, sa.Table]]:
    """A table of 30 rows, their update times one minute apart."""
    engine = sa.create_engine(db_url)
    md = sa.MetaData()
    table = sa.Table(f"staff_{uuid.uuid4().hex[:8]}", md,
                     sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("name", sa.String(20)),
                     sa.Column("changed", sa.DateTime, nullable=False))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "name": f"n{i}",
                                       "changed": T0 + dt.timedelta(minutes=i)}
                                      for i in range(30)])
    try:
        yield engine, table
    finally:
        md.drop_all(engine)
        engine.dispose()


def _sql(tmp_path: Path, url: str, stream: dict[str, Any], **connection: Any) -> Any:
    os.environ["HRSS_ESTIMATE_SQL_URL"] = url
    raw = {"kind": "sql", "batch_size": 7,
           "connection": {"url_env": "HRSS_ESTIMATE_SQL_URL", **connection},
           "streams": [{"name": "staff", "primary_key": ["id"], **stream}]}
    return create_connector(parse_system(raw, tmp_path / "hr.yaml", tmp_path))


def test_sql_counts_with_the_reads_own_cursor_filter(
        staff: tuple[sa.Engine, sa.Table], db_url: str, tmp_path: Path) -> None:
    engine, table = staff
    full = _sql(tmp_path, db_url, {"table": table.name})
    assert estimate_rows(full, "staff") == 30
    inc = _sql(tmp_path, db_url, {"table": table.name, "cursor": "changed"})
    assert estimate_rows(inc, "staff") == 30
    read, state = _rows_read(inc, "staff", None)
    assert read == 30
    assert estimate_rows(inc, "staff", state) == 0  # the boundary row was delivered
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 100 + i, "name": "new",
                                       "changed": T0 + dt.timedelta(hours=2, minutes=i)}
                                      for i in range(4)])
    assert estimate_rows(inc, "staff", state) == 4 == _rows_read(inc, "staff", state)[0]
    off = _sql(tmp_path, db_url, {"table": table.name}, estimate="off")
    assert estimate_rows(off, "staff") is None


def test_sql_statistics_are_the_tables_row_count(
        staff: tuple[sa.Engine, sa.Table], db_url: str, tmp_path: Path) -> None:
    engine, table = staff
    backend = engine.dialect.name
    with engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(sa.text(f"ANALYZE {table.name}"))
        elif backend == "mysql":
            conn.execute(sa.text(f"ANALYZE TABLE {table.name}"))
    stats = _sql(tmp_path, db_url, {"table": table.name}, estimate="statistics")
    if backend == "sqlite":  # SQLite keeps no row count: unknown, not a guess
        assert estimate_rows(stats, "staff") is None
    elif backend == "postgresql":
        assert estimate_rows(stats, "staff") == 30
    else:  # InnoDB's TABLE_ROWS is a sampled estimate
        estimate = estimate_rows(stats, "staff")
        assert estimate is not None and 15 <= estimate <= 60
    # statistics cover the whole table: an incremental read from a watermark is unknown
    inc = _sql(tmp_path, db_url, {"table": table.name, "cursor": "changed"},
               estimate="statistics")
    _, state = _rows_read(inc, "staff", None)
    assert estimate_rows(inc, "staff", state) is None


SLOW_QUERY = {
    # a query the database needs minutes for: the estimate's timeout must cut it short
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
              "WHERE i < 2000000000) SELECT i AS id FROM n",
    "postgresql": "SELECT g AS id FROM generate_series(1, 1000) g, pg_sleep(600) s",
    # 10^10 rows of MariaDB's sequence engine (a SLEEP would already stall the reflection)
    "mysql": "SELECT a.seq AS id FROM seq_1_to_100000 a, seq_1_to_100000 b "
             "WHERE a.seq + b.seq > 0",
}


def test_a_slow_count_is_given_up_and_the_connection_is_left_clean(
        db_url: str, tmp_path: Path) -> None:
    backend = sa.make_url(db_url).get_backend_name()
    slow = _sql(tmp_path, db_url, {"query": SLOW_QUERY[backend]}, estimate_timeout=0.3)
    assert estimate_rows(slow, "staff") is None  # a query has no statistics to fall back on
    with slow.engine.connect() as conn:  # the pooled connection has no timeout left on it
        if backend == "postgresql":
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "0"
        elif backend == "mysql":
            assert float(conn.exec_driver_sql(
                "SELECT @@SESSION.max_statement_time").scalar_one()) == 0
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1


def test_postgresql_falls_back_to_statistics_when_the_count_times_out(
        fresh_pg_database: str, tmp_path: Path) -> None:
    engine = sa.create_engine(fresh_pg_database)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE big (id int PRIMARY KEY, name text)"))
        conn.execute(sa.text("INSERT INTO big SELECT g, 'x' FROM generate_series(1, 500) g"))
        conn.execute(sa.text("ANALYZE big"))
    connector = _sql(tmp_path, fresh_pg_database, {"table": "big"}, estimate_timeout=0.3)
    connector.schema("staff")  # reflected before the table is locked
    # another session holds the table: COUNT(*) waits, hits statement_timeout, and the
    # estimate comes from pg_class.reltuples (which needs no lock on the table)
    with engine.connect() as locker:
        locker.execute(sa.text("LOCK TABLE big IN ACCESS EXCLUSIVE MODE"))
        assert estimate_rows(connector, "staff") == 500
        locker.rollback()
    engine.dispose()


# ---------------------------------------------------------------------------- files


def _write_csv(path: Path, rows: list[list[str]], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["序号", "姓名", "单位"])
        w.writerows(rows)


def _files(tmp_path: Path, pattern: str, **stream: Any) -> Any:
    raw = {"kind": "files", "batch_size": 500, "connection": {"path": "drop"},
           "streams": [{"name": "roster", "pattern": pattern, "primary_key": ["序号"],
                        **stream}]}
    return create_connector(parse_system(raw, tmp_path / "hr.yaml", tmp_path))


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_csv_estimate_from_file_sizes(tmp_path: Path, encoding: str) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    _write_csv(drop / "a_001.csv", [[str(i), "张三丰", "某某区人力资源和社会保障局"]
                                    for i in range(40)], encoding)
    connector = _files(tmp_path, "*.csv")
    assert estimate_rows(connector, "roster") == 40  # a small file: its lines counted
    _, state = _rows_read(connector, "roster", None)
    assert estimate_rows(connector, "roster", state) == 0  # processed files do not count
    # a file larger than the sample: its line density scaled to its size
    big = [[str(i), "欧阳" * (1 + i % 5), "街道" * (i % 7)] for i in range(60_000)]
    _write_csv(drop / "a_002.csv", big, encoding)
    assert (drop / "a_002.csv").stat().st_size > 1.5 * ESTIMATE_SAMPLE_BYTES
    estimate = estimate_rows(connector, "roster", state)
    assert estimate is not None and abs(estimate - 60_000) <= 600  # within 1 %
    # resuming inside that file: only its rest counts
    chunks = connector.read("roster", state)
    half = next(chunks).state
    chunks.close()
    assert half["current"]["rows_done"] == 500
    again = estimate_rows(connector, "roster", half)
    assert again is not None and abs(again - 59_500) <= 600


def test_xlsx_estimate_from_the_sheet_dimension(tmp_path: Path) -> None:
    import openpyxl

    drop = tmp_path / "drop"
    drop.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "人员"
    ws.append(["某某区花名册"])
    ws.append(["序号", "姓名"])
    for i in range(25):
        ws.append([i, f"姓名{i}"])
    wb.save(drop / "r.xlsx")
    connector = _files(tmp_path, "*.xlsx", sheet="人员", header_row=2)
    assert estimate_rows(connector, "roster") == 25 == _rows_read(connector, "roster", None)[0]


# ----------------------------------------------------------------------------- rest


def test_rest_estimate_is_the_demo_apis_total(tmp_path: Path) -> None:
    ws = tmp_path / "world"
    generate_world(ws, persons=80, seed=11)
    with serving(ws):
        connector = create_connector(load_system(ws / "connectors" / "employment.yaml", ws))
        for stream in ("persons", "registrations"):
            estimate = estimate_rows(connector, stream)
            read, state = _rows_read(connector, stream, None)
            assert estimate == read > 0
            # updatedSince is inclusive: the records at the watermark were delivered
            assert estimate_rows(connector, stream, state) == 0
    # without the API (or its total) the estimate is unknown, never an error
    assert estimate_rows(connector, "persons") is None


def test_a_kind_without_estimates_is_unknown(tmp_path: Path) -> None:
    class Plain(ConnectorKind):
        kind = "plain"

    cfg = parse_system({"kind": "files", "connection": {"path": "drop"},
                        "streams": [{"name": "s", "pattern": "*.csv"}]},
                       tmp_path / "p.yaml", tmp_path)
    assert estimate_rows(Plain(cfg), "s") is None
    assert estimate_rows(object(), "s") is None

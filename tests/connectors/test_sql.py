"""kind: sql specifics: watermark boundaries, splits, queries, errors and secrets."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hrss_hub.connectors import create_connector, parse_system
from hrss_hub.connectors.sql import SqlConnector
from hrss_hub.errors import ConfigError, FatalSourceError, HubError, SourceError

T0 = dt.datetime(2024, 5, 1, 9, 0, 0)

BACKENDS = ["sqlite-adbc", "sqlite-off", "pg-adbc", "pg-off", "mysql"]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(url, fast_path) of a real database."""
    name = str(request.param)
    if name.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'src.db'}"
    elif name.startswith("pg"):
        url = str(request.getfixturevalue("fresh_pg_database"))
    else:
        url = str(request.getfixturevalue("mysql_url"))
    return url, "off" if name.endswith("off") else "auto"


@pytest.fixture
def table(db: tuple[str, str]) -> Iterator[tuple[sa.Engine, sa.Table]]:
    engine = sa.create_engine(db[0])
    md = sa.MetaData()
    t = sa.Table(f"ac02_{uuid.uuid4().hex[:8]}", md,
                 sa.Column("AAC001", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("AAE140", sa.String(10), primary_key=True),
                 sa.Column("AAE036", sa.DateTime, nullable=False),
                 sa.Column("AAC003", sa.String(40)))
    md.create_all(engine)
    yield engine, t
    md.drop_all(engine)
    engine.dispose()


def make(url: str, fast_path: str, stream: dict[str, Any], batch_size: int = 3,
         tmp: Path = Path("/tmp")) -> SqlConnector:
    import os

    os.environ["HRSS_TEST_SQL_URL"] = url
    cfg = parse_system({"kind": "sql", "batch_size": batch_size,
                        "connection": {"url_env": "HRSS_TEST_SQL_URL", "fast_path": fast_path},
                        "streams": [{"name": "AC02", **stream}]}, tmp / "si.yaml", tmp)
    connector = create_connector(cfg)
    assert isinstance(connector, SqlConnector)
    return connector


def insert(engine: sa.Engine, t: sa.Table, rows: list[tuple[int, str, dt.datetime]]) -> None:
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"AAC001": a, "AAE140": b, "AAE036": c, "AAC003": "张·三"}
                                  for a, b, c in rows])


def keys(chunks: list[Any]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for c in chunks:
        out += list(zip(c.batch.column("AAC001").to_pylist(),
                        c.batch.column("AAE140").to_pylist(), strict=True))
    return out


def test_equal_timestamps_across_batches_and_runs(db: tuple[str, str],
                                                  table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    # 7 rows share one timestamp: they span three batches of 3
    insert(engine, t, [(i, "110", T0) for i in range(7)] + [(100, "110", T0 - dt.timedelta(1))])
    con = make(*db, {"table": t.name, "primary_key": ["AAC001", "AAE140"], "cursor": "AAE036"})
    chunks = list(con.read("AC02"))
    assert sorted(keys(chunks)) == sorted([(i, "110") for i in range(7)] + [(100, "110")])
    final = chunks[-1].state
    assert final["cursor"] == T0.isoformat()
    assert final["boundary_keys"] == sorted(f"{i}|110" for i in range(7))
    # a row committed later with the *same* timestamp is not lost; old ones not repeated
    insert(engine, t, [(7, "110", T0), (3, "210", T0)])
    again = list(con.read("AC02", final))
    assert sorted(keys(again)) == [(3, "210"), (7, "110")]
    # a row updated later (cursor moved forward, same key) is read again
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.AAC001 == 2).values(AAE036=T0 + dt.timedelta(1)))
    third = list(con.read("AC02", again[-1].state))
    assert keys(third) == [(2, "110")]
    assert list(con.read("AC02", third[-1].state)) == []


def test_first_version_state_with_listed_key_parts_still_resumes(
        db: tuple[str, str], table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    insert(engine, t, [(i, "110", T0) for i in range(4)])
    con = make(*db, {"table": t.name, "primary_key": ["AAC001", "AAE140"], "cursor": "AAE036"})
    # the state shape of the first version: each boundary key a list of text parts
    legacy = {"cursor": T0.isoformat(), "boundary_keys": [["0", "110"], ["1", "110"]]}
    assert sorted(keys(list(con.read("AC02", legacy)))) == [(2, "110"), (3, "110")]


def test_null_cursor_rows_of_an_initial_load_survive_a_crash(db: tuple[str, str]) -> None:
    engine = sa.create_engine(db[0])
    md = sa.MetaData()
    t = sa.Table(f"ac03_{uuid.uuid4().hex[:8]}", md,
                 sa.Column("AAC001", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("AAE036", sa.DateTime, nullable=True))
    md.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"AAC001": i, "AAE036": None if i % 3 == 0 else
                                       T0 + dt.timedelta(seconds=i)} for i in range(10)])
        con = make(*db, {"table": t.name, "primary_key": ["AAC001"], "cursor": "AAE036"},
                   batch_size=2)
        chunks = list(con.read("AC02"))
        for crash_after in range(1, len(chunks)):
            seen = {k for c in chunks[:crash_after] for k in c.batch.column("AAC001").to_pylist()}
            rest = {k for c in con.read("AC02", chunks[crash_after - 1].state)
                    for k in c.batch.column("AAC001").to_pylist()}
            # NULL cursors come first, so a resume may repeat them but never skips one
            assert seen | rest == set(range(10)), crash_after
    finally:
        md.drop_all(engine)
        engine.dispose()


def test_an_incremental_stream_needs_a_primary_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a primary_key") as info:
        make(f"sqlite:///{tmp_path}/x.db", "auto", {"table": "AC01", "cursor": "AAE036"},
             tmp=tmp_path)
    assert "streams[0].cursor" in str(info.value)


def test_microsecond_cursor_values(db: tuple[str, str],
                                   table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    # MariaDB DATETIME has second precision unless declared DATETIME(6)
    mysql = engine.dialect.name == "mysql"
    step = dt.timedelta(seconds=1) if mysql else dt.timedelta(microseconds=1)
    ts = [T0 + step * i for i in range(5)]
    insert(engine, t, [(i, "1", v) for i, v in enumerate(ts)])
    con = make(*db, {"table": t.name, "primary_key": ["AAC001", "AAE140"], "cursor": "AAE036"},
               batch_size=2)
    first = list(con.read("AC02"))
    assert first[-1].state["cursor"] == ts[-1].isoformat()
    last_read = first[0].batch.column("AAC001")[-1].as_py()
    resumed = next(iter(con.read("AC02", first[0].state)))
    assert resumed.batch.column("AAC001")[0].as_py() == last_read + 1


def test_columns_query_and_split(db: tuple[str, str], table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    insert(engine, t, [(i, str(i % 3), T0 + dt.timedelta(seconds=i)) for i in range(50)])
    con = make(*db, {"table": t.name, "columns": ["AAC003"], "primary_key": ["AAC001",
                                                                            "AAE140"],
                     "split": {"column": "AAC001", "parts": 4}}, batch_size=7)
    schema = con.discover()["AC02"]
    assert schema.names == ["AAC003", "AAC001", "AAE140", "_location"]
    chunks = list(con.read("AC02"))
    assert sorted(keys(chunks)) == sorted((i, str(i % 3)) for i in range(50))
    assert all(c.batch.num_rows <= 7 and c.batch.schema == schema for c in chunks)
    loc = chunks[0].batch.column("_location")[0].as_py()
    assert loc.startswith("AC02[AAC001=") and ",AAE140=" in loc
    q = engine.dialect.identifier_preparer.quote
    qcon = make(*db, {"query": f"SELECT {q('AAC001')}, {q('AAE036')} FROM {q(t.name)} "
                               f"WHERE {q('AAC001')} < 10",
                      "schema": {"AAC001": "int64", "AAE036": "timestamp[us]"},
                      "primary_key": ["AAC001"], "cursor": "AAE036"})
    qchunks = list(qcon.read("AC02"))
    assert sum(c.batch.num_rows for c in qchunks) == 10
    assert str(qcon.discover()["AC02"].field("AAE036").type) == "timestamp[us]"
    assert list(qcon.read("AC02", qchunks[-1].state)) == []


def test_unknown_table_lists_tables(db: tuple[str, str],
                                    table: tuple[sa.Engine, sa.Table]) -> None:
    con = make(*db, {"table": "no_such_table"})
    with pytest.raises(HubError, match="unknown table"):
        con.check()


def test_unreachable_database_is_a_source_error_without_password(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = "Zx9-secret-pw"
    for url in (f"postgresql+psycopg://hub:{secret}@127.0.0.1:1/si",
                f"mysql+pymysql://hub:{secret}@127.0.0.1:1/si"):
        for fast in ("auto", "off"):
            con = make(url, fast, {"table": "AC01", "cursor": "x", "primary_key": ["id"]},
                       tmp=tmp_path)
            with pytest.raises(SourceError) as info:
                list(con.read("AC02"))
            message = str(info.value)
            assert "system=si" in message and "stream=AC02" in message
            assert secret not in message and secret not in repr(info.value)
            assert info.value.__cause__ is None  # no chained driver error carrying the URL


def test_wrong_password_never_leaks(pg_url: str, tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    secret = "Wr0ng-P4ss-word"
    url = make_url(pg_url).set(username="no_such_user_hrss", password=secret, database="x")
    con = make(url.render_as_string(hide_password=False), "off", {"table": "AC01"},
               tmp=tmp_path)
    with pytest.raises(SourceError) as info:
        con.check()
    assert secret not in str(info.value)


def test_conn_id_from_airflow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "af.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("INSERT INTO t VALUES (1, '甲'), (2, '乙')")
    monkeypatch.setenv("AIRFLOW_CONN_SI_AF", f"sqlite:///{path}")
    cfg = parse_system({"kind": "sql", "connection": {"conn_id": "si_af"},
                        "streams": [{"name": "t", "table": "t", "primary_key": ["id"]}]},
                       tmp_path / "x.yaml", tmp_path)
    rows = [r for c in create_connector(cfg).read("t") for r in c.batch.to_pylist()]
    assert [r["v"] for r in rows] == ["甲", "乙"]
    assert rows[0]["_location"] == "t[id=1]"


def test_fatal_vs_retriable(tmp_path: Path) -> None:
    # a missing table is not fixed by retrying
    cfg = parse_system({"kind": "sql", "connection": {"url": f"sqlite:///{tmp_path}/e.db"},
                        "streams": [{"name": "q", "query": "SELECT * FROM missing_t"}]},
                       tmp_path / "x.yaml", tmp_path)
    with pytest.raises(FatalSourceError):
        create_connector(cfg).discover()


@pytest.mark.parametrize("fast_path", ["adbc", "off"])
@pytest.mark.parametrize("spelling", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"])
def test_sqlite_text_datetimes_written_by_other_programs_keep_the_boundary(
        tmp_path: Path, fast_path: str, spelling: str) -> None:
    """SQLite compares datetimes as the text the writing program chose (Python's sqlite3
    writes '2024-05-01 09:00:00', others '2024-05-01T09:00:00'): a row committed later at
    exactly the watermark's second must still be read, an older one never again."""
    import sqlite3

    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE AC01 (AAC001 INTEGER PRIMARY KEY, AAE036 DATETIME)")
        conn.executemany("INSERT INTO AC01 VALUES (?, ?)", [
            (i, (T0 + dt.timedelta(hours=i)).strftime(spelling)) for i in range(5)])
    con = make(f"sqlite:///{db}", fast_path, {"table": "AC01", "primary_key": ["AAC001"],
                                              "cursor": "AAE036"}, tmp=tmp_path)
    chunks = list(con.read("AC02"))
    state = chunks[-1].state
    assert state["cursor"] == (T0 + dt.timedelta(hours=4)).isoformat()
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO AC01 VALUES (?, ?)", [
            (10, (T0 + dt.timedelta(hours=4)).strftime(spelling)),     # at the watermark
            (11, (T0 + dt.timedelta(hours=3)).strftime(spelling)),     # older: a late commit
            (12, (T0 + dt.timedelta(hours=5)).strftime(spelling))])    # newer
    again = [r["AAC001"] for c in con.read("AC02", state) for r in c.batch.to_pylist()]
    assert again == [10, 12]


def test_mysql_reads_through_connectorx_like_sqlalchemy(mysql_url: str) -> None:
    """fast_path auto reads MySQL/MariaDB through connectorx (when installed), in batches,
    with the same rows, types and resume state as the SQLAlchemy path."""
    engine = sa.create_engine(mysql_url)
    md = sa.MetaData()
    t = sa.Table(f"ac02_{uuid.uuid4().hex[:8]}", md,
                 sa.Column("AAC001", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("AAE140", sa.String(10), primary_key=True),
                 sa.Column("AAE036", sa.DateTime, nullable=False),
                 sa.Column("AAC003", sa.String(40)))
    md.create_all(engine)
    try:
        base = dt.datetime(2024, 5, 1, 9)
        insert(engine, t, [(i, f"1{i % 3}", base + dt.timedelta(minutes=i // 2))
                           for i in range(10)])
        stream = {"table": t.name, "primary_key": ["AAC001", "AAE140"], "cursor": "AAE036"}
        fast, slow = make(mysql_url, "auto", stream), make(mysql_url, "off", stream)
        assert fast.fast_path() == "connectorx" and slow.fast_path() == "sqlalchemy"
        a, b = list(fast.read("AC02")), list(slow.read("AC02"))
        assert [c.batch.num_rows for c in a] == [3, 3, 3, 1]
        assert all(x.batch.equals(y.batch) for x, y in zip(a, b, strict=True))
        assert a[-1].state == b[-1].state
        # resuming from the state: the literal cursor bound reads no row twice
        insert(engine, t, [(20, "10", base + dt.timedelta(hours=1))])
        again = list(make(mysql_url, "auto", stream).read("AC02", a[-1].state))
        assert keys(again) == [(20, "10")]
    finally:
        md.drop_all(engine)
        engine.dispose()

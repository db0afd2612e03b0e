"""Contract sources for ``kind: sql``: SQLite, PostgreSQL (ADBC and SQLAlchemy), MariaDB."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hrss_hub.connectors.config import parse_system
from hrss_hub.connectors.contract import Source, source_factory
from hrss_hub.connectors.registry import create_connector

NAMES = ["张三", "阿依古丽·买买提", "李四", "欧阳·娜娜", "王五", None, "赵六"]
BASE = dt.datetime(2024, 3, 1, 8, 30, 0, 123456)
INITIAL = 25
BATCH = 4


def _row(i: int, ts: dt.datetime) -> dict[str, Any]:
    return {"AAC001": i, "AAC003": NAMES[i % len(NAMES)],
            "AAE180": Decimal(f"{1000 + i}.50"), "AAE036": ts, "AAC006": dt.date(1980, 1, 1)}


def sql_source(url: str, fast_path: str, tmp_path: Path) -> Iterator[Source]:
    """A table with cursor timestamps in groups of three equal values."""
    table_name = f"ac01_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    md = sa.MetaData()
    table = sa.Table(
        table_name, md,
        sa.Column("AAC001", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("AAC003", sa.String(50)),
        sa.Column("AAE180", sa.Numeric(12, 2)),
        sa.Column("AAE036", sa.DateTime, nullable=False),
        sa.Column("AAC006", sa.Date),
    )
    md.create_all(engine)
    keys: list[int] = []

    def insert(rows: list[dict[str, Any]]) -> None:
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
        keys.extend(r["AAC001"] for r in rows)

    insert([_row(i, BASE + dt.timedelta(seconds=i // 3)) for i in range(INITIAL)])

    def append(n: int) -> None:
        start = max(keys) + 1
        top = BASE + dt.timedelta(seconds=(INITIAL - 1) // 3)
        # the first new row shares the last cursor value: the boundary must not lose it
        insert([_row(start + j, top + dt.timedelta(seconds=j)) for j in range(n)])

    raw = {"kind": "sql", "batch_size": BATCH,
           "connection": {"url_env": "HRSS_CONTRACT_SQL_URL", "fast_path": fast_path},
           "streams": [{"name": "AC01", "table": table_name, "primary_key": ["AAC001"],
                        "cursor": "AAE036"}]}
    os.environ["HRSS_CONTRACT_SQL_URL"] = url
    cfg = parse_system(raw, tmp_path / "si_core.yaml", tmp_path)
    try:
        yield Source(create_connector(cfg), "AC01", ["AAC001"], BATCH,
                     lambda: [(k,) for k in keys], append, estimate_exact=True)
    finally:
        md.drop_all(engine)
        engine.dispose()


@source_factory("sql-sqlite-adbc", "sql")
def sqlite_adbc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from sql_source(f"sqlite:///{tmp_path / 'src.db'}", "adbc", tmp_path)


@source_factory("sql-sqlite-sqlalchemy", "sql")
def sqlite_sqlalchemy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from sql_source(f"sqlite:///{tmp_path / 'src.db'}", "off", tmp_path)


@source_factory("sql-postgresql-adbc", "sql")
def pg_adbc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from sql_source(request.getfixturevalue("fresh_pg_database"), "adbc", tmp_path)


@source_factory("sql-postgresql-sqlalchemy", "sql")
def pg_sqlalchemy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from sql_source(request.getfixturevalue("fresh_pg_database"), "off", tmp_path)


@source_factory("sql-mariadb", "sql")
def mariadb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from sql_source(request.getfixturevalue("mysql_url"), "auto", tmp_path)

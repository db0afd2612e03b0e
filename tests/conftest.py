"""Shared fixtures: real PostgreSQL / MySQL servers and a fresh ledger URL.

These servers are part of the test environment; tests that need them fail (never skip)
when they are unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the PostgreSQL server (its maintenance database)."""
    return os.environ.get("HRSS_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """URL of the MySQL/MariaDB test database."""
    return os.environ.get("HRSS_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture
def fresh_pg_database(pg_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped (forcibly) afterwards."""
    name = f"hrss_test_{uuid.uuid4().hex[:16]}"
    server = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to a fresh, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger' / 'ledger.db'}"
    url: str = request.getfixturevalue("fresh_pg_database")
    return url

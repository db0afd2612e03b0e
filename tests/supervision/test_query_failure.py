"""DuckDB's own messages as a QueryError: the reason kept, row values never."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from hrss_hub.config import HubConfig, load_config
from hrss_hub.errors import QueryError, is_retriable
from hrss_hub.supervision.duck import query_failure

ID = "11010119900307451X"


@pytest.fixture
def cfg(tmp_path: Path) -> HubConfig:
    (tmp_path / "hub.yaml").write_text(
        'hub_id: t\nlevel: district\ndivision: "510107"\nduckdb:\n  memory_limit: 64MB\n',
        encoding="utf-8")
    return load_config(tmp_path / "hub.yaml")


def failure(sql: list[str]) -> duckdb.Error:
    con = duckdb.connect()
    try:
        for statement in sql:
            con.execute(statement)
    except duckdb.Error as exc:
        return exc
    finally:
        con.close()
    raise AssertionError("DuckDB did not fail")


@pytest.mark.parametrize("sql", [
    [f"SELECT CAST('{ID}' AS INTEGER)"],  # Could not convert string '…'
    ["CREATE TABLE t(uid VARCHAR PRIMARY KEY)", f"INSERT INTO t VALUES ('{ID}')",
     f"INSERT INTO t VALUES ('{ID}')"],  # Duplicate key "uid: …"
    [f"SELECT 1 FROM range(1) WHERE range = {ID[:17]}::BIGINT AND x"],  # unquoted digits
], ids=["literal", "duplicate-key", "bare-digits"])
def test_row_values_never_reach_the_error(cfg: HubConfig, sql: list[str]) -> None:
    exc = failure(sql)
    assert ID[:12] in str(exc)  # DuckDB itself does say the value
    error = query_failure(cfg, "record linkage", exc)
    assert isinstance(error, QueryError) and not is_retriable(error)
    assert ID[:12] not in str(error) and ID[-6:] not in str(error), str(error)
    assert "record linkage failed in DuckDB" in str(error)
    assert "memory_limit=64MB" in str(error)

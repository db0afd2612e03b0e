"""``hrss-hub connectors check / discover`` on a real workspace."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from hrss_hub.cli.connectors import connectors
from hrss_hub.connectors import load_system

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "hub.yaml").write_text("hub_id: test\n"
                                       "level: district\ndivision: '510107'\n", encoding="utf-8")
    (tmp_path / "connectors").mkdir()
    (tmp_path / "sources").mkdir()
    with sqlite3.connect(tmp_path / "sources" / "si.db") as conn:
        conn.execute("CREATE TABLE AC01 (AAC001 INTEGER PRIMARY KEY, AAC003 TEXT, "
                     "AAE036 DATETIME)")
    (tmp_path / "connectors" / "si_core.yaml").write_text(
        "kind: sql\nconnection: {url: 'sqlite:///sources/si.db'}\n"
        "streams: [{name: AC01, table: AC01, primary_key: [AAC001], cursor: AAE036}]\n",
        encoding="utf-8")
    return tmp_path


def test_check_ok_and_discover(workspace: Path) -> None:
    runner = CliRunner()
    cfg = str(workspace / "hub.yaml")
    result = runner.invoke(connectors, ["check", "--config", cfg])
    assert result.exit_code == 0, result.output
    assert "OK    si_core (sql): AC01" in result.output
    result = runner.invoke(connectors, ["discover", "si_core", "--config", cfg, "--json"])
    assert result.exit_code == 0, result.output
    fields = json.loads(result.output)["AC01"]["fields"]
    assert [f["name"] for f in fields] == ["AAC001", "AAC003", "AAE036", "_location"]
    assert fields[2]["type"] == "timestamp[us]"


def test_check_reports_each_broken_file(workspace: Path) -> None:
    (workspace / "connectors" / "bad.yaml").write_text(
        "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams: [{name: a, tabel: a}]\n",
        encoding="utf-8")
    result = CliRunner().invoke(connectors, ["check", "--config", str(workspace / "hub.yaml")])
    assert result.exit_code == 1
    assert "FAIL  bad.yaml: unknown key 'tabel' [system=bad" in result.output
    assert "line=3, path=streams[0].tabel" in result.output
    assert "did you mean 'table'" in result.output
    assert "OK    si_core" in result.output


def test_example_yaml_is_valid(workspace: Path) -> None:
    cfg = load_system(REPO / "connectors" / "examples" / "si_core.yaml", workspace)
    assert [s.name for s in cfg.streams] == ["AC01", "AB01"]

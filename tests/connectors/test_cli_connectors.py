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


MAPPED = """kind: sql
connection: {url: 'sqlite:///sources/si.db'}
streams:
  - name: AC01
    table: AC01
    primary_key: [AAC001]
    cursor: AAE036
    mapping:
      entity: person
      source_key: [AAC01]
      filter: {column: AAE100, in: ['1']}
      fields:
        citizen_id: {from: AAC002, normalize: citizen_id}
        id_type: {const: '01'}
        name: {concat: [AAC003, AAC03X]}
        gender: {const: '1'}
        birth_date: {from: AAC006, normalize: date}
"""


def test_check_reports_every_mapped_column_the_source_lacks(workspace: Path) -> None:
    """#15 point 12: `connectors check` said OK for a mapping reading a missing column."""
    (workspace / "connectors" / "si_core.yaml").write_text(MAPPED, encoding="utf-8")
    cfg = str(workspace / "hub.yaml")
    result = CliRunner().invoke(connectors, ["check", "--config", cfg])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "FAIL  si_core.yaml: 5 mapped column problem(s)"
    assert any(ln.startswith("      si_core/AC01 streams[0].mapping.fields.citizen_id: "
                             "column 'AAC002' is not in the source") for ln in lines)
    assert ("      si_core/AC01 streams[0].mapping.fields.name.concat[1]: column 'AAC03X' is "
            "not in the source (did you mean 'AAC003'?)") in lines
    assert any("streams[0].mapping.source_key[0]: column 'AAC01'" in ln
               and "did you mean 'AAC001'?" in ln for ln in lines)
    assert any("streams[0].mapping.filter[0]: column 'AAE100'" in ln for ln in lines)
    assert any("fields.birth_date: column 'AAC006'" in ln for ln in lines)

    result = CliRunner().invoke(connectors, ["check", "--config", cfg, "--json"])
    report = json.loads(result.output)["files"][0]
    assert report["status"] == "failed"
    assert {(p["stream"], p["column"]) for p in report["problems"]} == {
        ("AC01", "AAC002"), ("AC01", "AAC03X"), ("AC01", "AAC01"), ("AC01", "AAE100"),
        ("AC01", "AAC006")}
    assert {p["column"]: p["suggestion"] for p in report["problems"]}["AAC03X"] == "AAC003"

    # without a connection the columns are unknown: said so, not claimed OK for them
    result = CliRunner().invoke(connectors, ["check", "--config", cfg, "--no-connect"])
    assert result.exit_code == 0, result.output
    assert "mapped columns not checked without a connection: AC01" in result.output


def test_no_connect_checks_columns_the_yaml_declares(workspace: Path) -> None:
    (workspace / "connectors" / "si_core.yaml").write_text(MAPPED.replace(
        "    table: AC01\n", "    table: AC01\n    columns: [AAC002, AAC003, AAC006, AAE100]\n"
    ), encoding="utf-8")
    result = CliRunner().invoke(connectors, ["check", "--config", str(workspace / "hub.yaml"),
                                             "--no-connect", "--json"])
    problems = json.loads(result.output)["files"][0]["problems"]
    assert {p["column"] for p in problems} == {"AAC03X", "AAC01"}
    assert result.exit_code == 1

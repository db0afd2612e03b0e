"""``check_mappings``: every mapping problem of a workspace, with file, path and suggestion."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml

from hrss_hub.config import load_config
from hrss_hub.mapping.check import check_mappings
from hrss_hub.standard.model import load_standard

STD = load_standard()


def workspace(tmp_path: Path, fields: dict, entity: str = "person") -> Path:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "hub.yaml").write_text("hub_id: t\n"
                                       "level: district\ndivision: '510107'\n", encoding="utf-8")
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, sex TEXT, "
                   "born TEXT)")
        db.executemany("INSERT INTO p VALUES (?,?,?,?,?)", [
            (1, "11010519491231002X", "王", "F", "19491231"),
            (2, "11010519491231002X", "李", "X", "19491231")])
    doc = {"system": "s", "kind": "sql", "connection": {"url": "sqlite:///s.db"},
           "streams": [{"name": "p", "table": "p", "primary_key": ["id"],
                        "mapping": {"entity": entity, "source_key": ["id"], "fields": fields}}]}
    (tmp_path / "connectors" / "s.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                                    encoding="utf-8")
    return tmp_path


GOOD = {"citizen_id": "idno", "id_type": {"const": "01"}, "name": "name",
        "gender": {"from": "sex", "map": {"M": "1", "F": "2"}}, "birth_date": "born"}


def test_a_good_mapping_has_no_problems(tmp_path: Path) -> None:
    assert check_mappings(load_config(workspace(tmp_path, GOOD) / "hub.yaml"), STD) == []


def test_every_problem_is_reported_with_path(tmp_path: Path) -> None:
    fields = {**GOOD, "birthdate": "born", "name": {"from": "name", "normalize": "date"},
              "id_type": {"const": "42"}}
    del fields["birth_date"]
    problems = check_mappings(load_config(workspace(tmp_path, fields) / "hub.yaml"), STD)
    text = "\n".join(str(p) for p in problems)
    assert "did you mean 'birth_date'" in text
    assert "streams[0].mapping.fields.name.normalize" in text and "date" in text
    assert "'42' is not a code of id_type" in text
    assert "required field 'birth_date'" in text
    assert all(p.file.endswith("s.yaml") for p in problems)
    assert all(p.line for p in problems), problems  # each problem says its line


def test_unknown_normalizer_and_entity(tmp_path: Path) -> None:
    fields = {**GOOD, "name": {"from": "name", "normalize": "nmae"}}
    problems = check_mappings(load_config(workspace(tmp_path, fields) / "hub.yaml"), STD)
    assert len(problems) == 1 and "did you mean 'name'" in str(problems[0])


def test_unmapped_code_values_seen_in_data(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {**GOOD, "gender": {"from": "sex", "map": {"F": "2"},
                                                 "fallback": "quarantine"}})
    problems = check_mappings(load_config(ws / "hub.yaml"), STD, sample_rows=100)
    assert len(problems) == 1
    assert "'X'" in problems[0].message and "fallback" in problems[0].message


def test_cli_reports_unmapped_values_with_sample(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hrss_hub.cli import cli

    ws = workspace(tmp_path, {**GOOD, "gender": {"from": "sex", "map": {"F": "2"},
                                                 "fallback": "quarantine"}})
    runner = CliRunner()
    quick = runner.invoke(cli, ["standard", "check", "--config", str(ws / "hub.yaml")])
    assert quick.exit_code == 0, quick.output  # the mapping is well formed
    deep = runner.invoke(cli, ["standard", "check", "--config", str(ws / "hub.yaml"),
                               "--sample", "100"])
    assert deep.exit_code == 1
    assert "'X'" in deep.output and "s.yaml" in deep.output

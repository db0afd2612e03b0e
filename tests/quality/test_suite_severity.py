"""A hand-written expectation's severity decides what the row gate does (issue #10, defect 9):
``error`` quarantines the rows it flags, ``warning`` reports them and publishes; and an
expectation the hub cannot enforce is refused when the suites load, naming file, expectation
and what is supported."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from hrss_hub.config import load_config
from hrss_hub.exchange.reading import read_version
from hrss_hub.pipeline import run
from hrss_hub.quality.suites import SuiteError, load_suites
from hrss_hub.quality.validate import load_validations
from hrss_hub.standard.model import load_standard

#: the repository checkout (tests read its standards/ and expectations/)
REPO_ROOT = Path(__file__).resolve().parents[2]

CONNECTOR = {
    "system": "hr_db",
    "kind": "sql",
    "connection": {"url": "sqlite:///src.db"},
    "streams": [{
        "name": "staff",
        "table": "staff",
        "primary_key": ["id"],
        "cursor": "updated",
        "mapping": {
            "entity": "person",
            "source_key": ["id"],
            "fields": {
                "citizen_id": "idno",
                "id_type": {"const": "01"},
                "name": {"from": "name", "normalize": "name"},
                "gender": {"from": "sex", "map": {"男": "1", "女": "2"}, "fallback": "quarantine"},
                "birth_date": {"from": "born", "normalize": "date"},
                "phone": "phone",
            },
        },
    }],
}
ROWS = [
    (1, "11010519491231002X", "王芳", "女", "1949-12-31", "13800138000"),
    (2, "34052419800101001X", "阿依古丽·买买提", "男", "1980-01-01", "13800138001"),
    (3, "610104620927690", "张三", "女", "1962-09-27", "023-1234567"),
    (4, "110105194912310046", "欧阳娜娜", "女", "1949-12-31", "13800138002"),
]


def _workspace(tmp_path: Path, handwritten: dict[str, object]) -> Path:
    """A workspace with the bundled suites plus one hand-written suite for ``person``."""
    (tmp_path / "connectors").mkdir()
    (tmp_path / "hub.yaml").write_text("hub_id: test-hub\nlevel: district\ndivision: '510107'\n",
                                       encoding="utf-8")
    (tmp_path / "connectors" / "hr_db.yaml").write_text(
        yaml.safe_dump(CONNECTOR, allow_unicode=True), encoding="utf-8")
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, sex TEXT,"
                   " born TEXT, phone TEXT, updated TEXT)")
        db.executemany("INSERT INTO staff VALUES (?,?,?,?,?,?, '2026-01-01T00:00:00')", ROWS)
    shutil.copytree(REPO_ROOT / "expectations", tmp_path / "expectations")
    (tmp_path / "expectations" / "handwritten" / "person.local.json").write_text(
        json.dumps(handwritten, ensure_ascii=False, indent=1), encoding="utf-8")
    return tmp_path


def _suite(severity: str, *expectations: dict[str, object]) -> dict[str, object]:
    """A hand-written person suite: names of at most three characters (a local convention
    to report or enforce), with ``severity``."""
    names = {"type": "expect_column_values_to_match_regex",
             "kwargs": {"column": "name", "regex": "^.{1,3}$"},
             "meta": {"hrss_hub": {"severity": severity}}}
    return {"name": "person.local", "expectations": [names, *expectations],
            "meta": {"hrss_hub": {"entity": "person", "generated": False}}}


def test_an_error_expectation_quarantines_the_rows_it_flags(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, _suite("error"))
    cfg = load_config(ws / "hub.yaml")
    summary = run(cfg)
    stream = summary.systems[0].streams[0]
    assert stream.status == "succeeded", stream.error
    # rows 2 and 4 have names longer than three characters: quarantined, not published
    assert (stream.read, stream.published, stream.quarantined) == (4, 2, 2)
    assert stream.quarantined_by_rule == {"pattern_mismatch": 2}
    published = {r["source_key"] for r in read_version(ws / "exchange", "person").to_pylist()}
    assert published == {"1", "3"}
    rows = pq.read_table(stream.quarantine_file).to_pylist()
    assert sorted((r["source_key"], r["rules"], r["fields"]) for r in rows) == [
        ("2", ["pattern_mismatch"], ["name"]), ("4", ["pattern_mismatch"], ["name"])]
    # the expectation's own count says the same
    (validation,) = load_validations(cfg.reports_dir, summary.run_id)
    mine = [e for e in validation["expectations"] if e["suite"] == "person.local"]
    assert [(e["rule"], e["severity"], e["unexpected"]) for e in mine] == [
        ("pattern_mismatch", "error", 2)]


def test_a_warning_expectation_reports_and_publishes(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, _suite("warning"))
    cfg = load_config(ws / "hub.yaml")
    summary = run(cfg)
    stream = summary.systems[0].streams[0]
    assert (stream.read, stream.published, stream.quarantined) == (4, 4, 0)
    (validation,) = load_validations(cfg.reports_dir, summary.run_id)
    mine = [e for e in validation["expectations"] if e["suite"] == "person.local"]
    assert [(e["severity"], e["unexpected"]) for e in mine] == [("warning", 2)]


def test_a_critical_expectation_counts_toward_the_critical_threshold(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, _suite("critical"))
    connector = yaml.safe_load((ws / "connectors" / "hr_db.yaml").read_text(encoding="utf-8"))
    connector["streams"][0]["threshold"] = {"critical_fail_pct": 25}
    (ws / "connectors" / "hr_db.yaml").write_text(yaml.safe_dump(connector, allow_unicode=True),
                                                  encoding="utf-8")
    stream = run(load_config(ws / "hub.yaml")).systems[0].streams[0]
    # 2 of 4 rows fail a critical expectation: 50 % > 25 %
    assert stream.status == "failed"
    assert "50.00% of 4 rows fail a critical rule" in (stream.error or "")


@pytest.mark.parametrize(("expectation", "says"), [
    ({"type": "expect_column_values_to_be_between",
      "kwargs": {"column": "phone", "min_value": 1}},
     "unknown expectation type 'expect_column_values_to_be_between'"),
    ({"type": "expect_column_values_to_match_regex",
      "kwargs": {"column": "phone", "regex": "^1", "row_condition": 'phone != ""',
                 "condition_parser": "pandas"}},
     "unsupported row_condition"),
    ({"type": "expect_column_values_to_be_valid_citizen_id", "kwargs": {"column": "citizen_id"},
      "meta": {"hrss_hub": {"severity": "warning"}}},
     "is decided while mapping"),
    ({"type": "expect_column_values_to_match_regex",
      "kwargs": {"column": "phone", "regex": "^1", "regexp": "^1"}},
     "unknown parameter 'regexp' of rule 'pattern_mismatch' (did you mean 'regex'?)"),
    ({"type": "expect_column_values_to_match_regex", "kwargs": {"column": "phone"},
      "meta": {"hrss_hub": {"rule": "phone_format"}}},
     "rule 'pattern_mismatch' needs parameter 'regex'"),
    ({"type": "expect_column_values_to_match_regex",
      "kwargs": {"column": "phone", "regex": "^1"}, "meta": {"hrss_hub": {"rule": "phone"}}},
     "meta.hrss_hub.rule 'phone' does not match"),
])
def test_an_expectation_the_gate_cannot_enforce_is_refused_with_file_and_path(
        tmp_path: Path, expectation: dict[str, object], says: str) -> None:
    ws = _workspace(tmp_path, _suite("error", expectation))
    with pytest.raises(SuiteError) as err:
        load_suites(ws / "expectations", load_standard())
    text = str(err.value)
    assert says in text
    assert "person.local.json" in text and "path=expectations[1]" in text
    if "unknown expectation type" in says:
        # the error says what is supported
        assert "the hub evaluates:" in text and "expect_column_values_to_match_regex" in text


def test_a_run_with_an_unenforceable_suite_fails_before_reading(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, _suite("error", {
        "type": "expect_column_values_to_be_between", "kwargs": {"column": "phone"}}))
    summary = run(load_config(ws / "hub.yaml"))
    assert summary.status == "failed"
    stream = summary.systems[0].streams[0]
    assert "person.local.json" in (stream.error or "") and stream.published == 0
    assert not (ws / "exchange" / "person").exists()


def test_a_hand_written_check_among_candidates_runs_after_the_other_rules(
        tmp_path: Path) -> None:
    """The generated row condition on another rule: judged among rows that passed the rest."""
    phone = {"type": "expect_column_values_to_match_regex",
             "kwargs": {"column": "phone", "regex": "^13800138000$", "row_condition": {
                 "type": "comparison", "column": {"name": "__candidate__"}, "operator": "==",
                 "parameter": True}},
             "meta": {"hrss_hub": {"severity": "warning"}}}
    ws = _workspace(tmp_path, _suite("error", phone))
    cfg = load_config(ws / "hub.yaml")
    summary = run(cfg)
    stream = summary.systems[0].streams[0]
    assert stream.quarantined_by_rule == {"pattern_mismatch": 2}
    (validation,) = load_validations(cfg.reports_dir, summary.run_id)
    mine = [e for e in validation["expectations"] if e["suite"] == "person.local"]
    # rows 2, 3, 4 have other phones, but 2 and 4 were quarantined by the name rule first
    assert [(e["field"], e["unexpected"]) for e in mine] == [("name", 2), ("phone", 1)]

"""The reference check (a contribution's person must exist) on first and incremental runs.

Defect (#15.3): it read only already-published versions — a first run judged nothing (every
row passed) and an incremental run flagged every contribution of a person the same run
brought in. It must see published ∪ staged rows, the run's own included.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from hrss_hub.config import load_config
from hrss_hub.pipeline import run
from hrss_hub.quality.references import stream_phases
from hrss_hub.quality.suites import default_dir, load_suites
from hrss_hub.standard.model import load_standard

IDS = ["11010519491231002X", "34052419800101001X", "610104196209276908",
       "110105194912310046", "11010519491231011X"]
USCC = "91350100M000100Y43"


def _connector(system: str, table: str, mapping: dict[str, Any]) -> dict[str, Any]:
    return {"system": system, "kind": "sql", "connection": {"url": "sqlite:///src.db"},
            "streams": [{"name": table, "table": table, "primary_key": ["id"],
                         "cursor": "updated", "mapping": mapping}]}


PEOPLE = _connector("b_people", "staff", {
    "entity": "person", "source_key": ["id"],
    "fields": {"citizen_id": "idno", "id_type": {"const": "01"}, "name": "name",
               "gender": {"from": "sex"},
               "birth_date": {"from": "born", "normalize": "date", "formats": ["%Y%m%d"]}}})
# sorts before b_people: file order alone would check contributions before persons exist
CONTRIB = _connector("a_contrib", "paid", {
    "entity": "contribution", "source_key": ["id"],
    "fields": {"citizen_id": "idno", "employer_uscc": {"const": USCC},
               "insurance_type": {"const": "110"}, "period": {"const": "202301"},
               "base": {"const": "5000"}, "division": {"const": "510107"}}})


def _workspace(tmp_path: Path) -> Path:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "hub.yaml").write_text("hub_id: ref-hub\nlevel: district\ndivision: '510107'\n"
                                       "gx: false\n", encoding="utf-8")
    for doc in (PEOPLE, CONTRIB):
        (tmp_path / "connectors" / f"{doc['system']}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, "
                   "sex TEXT, born TEXT, updated TEXT)")
        db.execute("CREATE TABLE paid (id INTEGER PRIMARY KEY, idno TEXT, updated TEXT)")
    return tmp_path


def _add(ws: Path, people: list[tuple[int, int]], paid: list[tuple[int, int]],
         stamp: str) -> None:
    with sqlite3.connect(ws / "src.db") as db:
        db.executemany("INSERT INTO staff VALUES (?,?,?,?,?,?)",
                       [(k, IDS[i], f"人员{k}", "1" if int(IDS[i][16]) % 2 else "2",
                         IDS[i][6:14], stamp) for k, i in people])
        db.executemany("INSERT INTO paid VALUES (?,?,?)",
                       [(k, IDS[i], stamp) for k, i in paid])


def _missing_persons(ws: Path, run_id: str) -> int:
    doc = json.loads((ws / "reports" / run_id / "validation" / "a_contrib.paid.json")
                     .read_text(encoding="utf-8"))
    (res,) = [e for e in doc["expectations"] if e["rule"] == "reference_missing"
              and e["field"] == "citizen_id"]
    return int(res["unexpected"])


def test_reference_check_is_right_on_first_and_incremental_runs(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    cfg = load_config(ws / "hub.yaml")
    # run 1: persons 0, 1; contributions of 0, 1 and of person 4, whom no system holds
    _add(ws, people=[(1, 0), (2, 1)], paid=[(1, 0), (2, 1), (3, 4)], stamp="2026-01-01")
    first = run(cfg)
    assert first.status == "succeeded", [s.error for sy in first.systems for s in sy.streams]
    assert _missing_persons(ws, first.run_id) == 1  # was 0: nothing published yet
    # run 2: person 2 is new in this run; contributions of 2 (new), 0 (published), 3 (nobody)
    _add(ws, people=[(3, 2)], paid=[(4, 2), (5, 0), (6, 3)], stamp="2026-01-02")
    second = run(cfg)
    assert second.status == "succeeded"
    paid = next(s for sy in second.systems for s in sy.streams if s.stream == "paid")
    assert paid.read == 3
    assert _missing_persons(ws, second.run_id) == 1  # was 2: the run's own person 2 missed


def test_streams_of_referenced_entities_run_first() -> None:
    standard = load_standard()
    suites = load_suites(default_dir(None), standard)
    streams = [("a.paid", "contribution"), ("a.notes", None), ("b.staff", "person"),
               ("c.firms", "employer"), ("d.jobs", "employment")]
    phases = stream_phases(streams, suites)
    assert phases[0] == ["a.notes", "b.staff", "c.firms"]
    assert sorted(phases[1]) == ["a.paid", "d.jobs"]
    # no references among the run's entities: one phase, file order kept
    assert stream_phases([("x", "person"), ("y", "employer")], suites) == [["x", "y"]]

"""The exchange behind a real pipeline run: `after_run` cuts the version (quality and
watermarks in the manifest) and delivers it; a rerun with nothing new changes nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from hrss_hub.config import load_config
from hrss_hub.exchange.reading import read_version
from hrss_hub.ledger import Ledger
from hrss_hub.pipeline import run

CONNECTOR = {
    "system": "hr_db", "kind": "sql", "connection": {"url": "sqlite:///src.db"},
    "streams": [{
        "name": "staff", "table": "staff", "primary_key": ["id"], "cursor": "updated",
        "mapping": {"entity": "person", "source_key": ["id"], "fields": {
            "citizen_id": "idno", "id_type": {"const": "01"},
            "name": {"from": "name", "normalize": "name"},
            "gender": {"from": "sex", "map": {"男": "1", "女": "2"}, "fallback": "quarantine"},
            "birth_date": {"from": "born", "normalize": "date"},
        }},
    }],
}
ROWS = [(1, "11010519491231002X", "王芳", "女", "1949-12-31", "2026-01-01T00:00:00"),
        (2, "34052419800101001x", "李明", "男", "1980-01-01", "2026-01-01T00:00:00"),
        (3, "340524198001010011", "坏号", "男", "1980-01-01", "2026-01-01T00:00:01")]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI",
                 "HRSS_HUB_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "connectors").mkdir()
    (tmp_path / "sharing").mkdir()
    (tmp_path / "hub.yaml").write_text("hub_id: wuhou\n"
                                       "level: district\ndivision: '510107'\nkeep_versions: 2\n",
                                       encoding="utf-8")
    (tmp_path / "connectors" / "hr_db.yaml").write_text(
        yaml.safe_dump(CONNECTOR, allow_unicode=True), encoding="utf-8")
    (tmp_path / "sharing" / "tax.yaml").write_text(yaml.safe_dump({
        "recipient": {"id": "tax", "name": "税务局"}, "purpose": "个税核验",
        "legal_basis": "税收征收管理法", "valid_from": "2026-01-01", "valid_to": "2099-01-01",
        "datasets": {"person": {"columns": {"citizen_id": "pseudonym", "gender": "keep"}}}},
        allow_unicode=True), encoding="utf-8")
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, sex TEXT,"
                   " born TEXT, updated TEXT)")
        db.executemany("INSERT INTO staff VALUES (?,?,?,?,?,?)", ROWS)
    return tmp_path


def test_pipeline_run_publishes_a_signed_version_and_delivers(workspace: Path) -> None:
    cfg = load_config(workspace / "hub.yaml")
    summary = run(cfg)
    assert summary.status == "succeeded", summary.to_dict()
    manifest = json.loads((workspace / "exchange" / "person" / "_hrss" / "manifests"
                           / f"{1:020d}.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == 2
    assert manifest["quality"]["runs"] == [summary.run_id]
    assert (manifest["quality"]["read"], manifest["quality"]["quarantined"]) == (3, 1)
    (contribution,) = manifest["quality"]["contributions"]
    assert (contribution["system"], contribution["stream"]) == ("hr_db", "staff")
    assert manifest["audit_head"]  # the audit chain's head when the version was cut
    assert manifest["lineage"]["systems"] == ["hr_db"]
    assert manifest["lineage"]["watermarks"]["hr_db/staff"]  # the committed cursor
    assert manifest["publisher"] == {"hub_id": "wuhou", "level": "district",
                                     "division": "510107"}
    assert read_version(workspace / "outbox" / "tax", "person").num_rows == 2

    assert run(cfg).status == "succeeded"  # nothing new: no new version, no new delivery
    with sqlite3.connect(workspace / "src.db") as db:
        db.execute("INSERT INTO staff VALUES (4, '110105196004101002', '赵六', '女', "
                   "'1960-04-10', '2026-02-01T00:00:00')")
    third = run(cfg)
    assert third.systems[0].streams[0].published == 1, third.to_dict()
    assert read_version(workspace / "exchange", "person").num_rows == 3
    assert read_version(workspace / "exchange", "person", 1).num_rows == 2
    with Ledger.open(cfg.ledger_url) as ledger:
        assert ledger.latest_exchange_version("person") == 2
        assert ledger.is_delivered("tax", "person", 2)
        assert ledger.verify_audit() == []
    assert read_version(workspace / "outbox" / "tax", "person").num_rows == 3
    assert third.status == "succeeded"

"""The connectors doc's example "one table read by two streams (two entities)" runs: both
entities are published and no employer row is quarantined as a duplicate."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from hrss_hub.config import load_config
from hrss_hub.exchange.reading import read_version
from hrss_hub.pipeline import run

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def documented_example() -> dict[str, object]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### One table read by two streams (two entities)", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    doc: dict[str, object] = yaml.safe_load(block.group(1))
    return doc


def test_one_table_two_streams_example_runs(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "hub.yaml").write_text("hub_id: t\nlevel: county\ndivision: '510107'\n"
                                       "gx: false\n", encoding="utf-8")
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "hr_db.yaml").write_text(
        yaml.safe_dump(documented_example(), allow_unicode=True), encoding="utf-8")
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE AC01 (AAC001 INTEGER PRIMARY KEY, AAC002 TEXT, AAC003 TEXT, "
                   "AAC004 TEXT, AAC006 TEXT, AAB998 TEXT, AAB004 TEXT, AAB301 TEXT, "
                   "AAE036 TEXT)")
        db.executemany("INSERT INTO AC01 VALUES (?,?,?,?,?,?,?,?,?)", [
            (1, "11010519491231002X", "王芳", "2", "1949-12-31", "91350100M000100Y43",
             "某某公司", "510107", "2026-01-01"),
            (2, "110105194912310046", "李娜", "2", "1949-12-31", "91350100M000100Y43",
             "某某公司", "510107", "2026-01-01")])
    monkeypatch.setenv("HR_DB_URL", f"sqlite:///{tmp_path / 'src.db'}")
    summary = run(load_config(tmp_path / "hub.yaml"))
    streams = {s.stream: s for sy in summary.systems for s in sy.streams}
    assert all(s.status == "succeeded" for s in streams.values()), \
        {k: s.error for k, s in streams.items()}
    assert (streams["staff_persons"].published, streams["staff_employers"].published) == (2, 1)
    assert streams["staff_employers"].quarantined == 0
    assert [r["name"] for r in read_version(tmp_path / "exchange", "employer").to_pylist()] \
        == ["某某公司"]

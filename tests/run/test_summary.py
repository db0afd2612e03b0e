"""Stream results keep every warning (appended, never overwritten) and the summary types
round-trip through their JSON form (Airflow XComs, the ledger's run summary)."""

from __future__ import annotations

import copy
import sqlite3
import sys
from pathlib import Path

import yaml

from hrss_hub.cli import main
from hrss_hub.config import load_config
from hrss_hub.pipeline import run
from hrss_hub.run.summary import RunSummary, StreamSummary, SystemSummary, system_status

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_pipeline import CONNECTOR, make_workspace


def test_released_rows_lacking_a_value_and_a_threshold_warning_both_stay(
        tmp_path: Path) -> None:
    connector = copy.deepcopy(CONNECTOR)
    # the second run reads one row, quarantined: 100 % would fail the stream by the default
    # quarantine_fail_pct (90); this test is about the warnings, so the limit is lifted
    connector["streams"][0]["threshold"] = {"warn_fail_pct": 1, "quarantine_fail_pct": 100}
    ws = make_workspace(tmp_path, connector)
    with sqlite3.connect(ws / "src.db") as db:  # no name: quarantined, nothing to restore
        db.execute("INSERT INTO staff VALUES (6, '110105194912310046', NULL, '女', "
                   "'1949-12-31', '2026-01-03T00:00:00')")
    cfg = load_config(ws / "hub.yaml")
    first = run(cfg).systems[0].streams[0]
    assert first.quarantined == 3
    assert main(["quarantine", "release", "6", "--system", "hr_db", "--by", "li",
                 "--reason", "paper file", "--config", str(ws / "hub.yaml")]) == 0
    with sqlite3.connect(ws / "src.db") as db:  # a new bad row: over the warning threshold
        db.execute("INSERT INTO staff VALUES (7, '340524198001010011', '坏号', '男', "
                   "'1980-01-01', '2026-02-01T00:00:00')")
    second = run(cfg).systems[0].streams[0]
    assert second.status == "succeeded", second.error
    text = " | ".join(second.warnings)
    assert "still lack a required value" in text  # was overwritten by the threshold check
    assert "warning above 1%" in text
    assert second.quality_warning == "; ".join(second.warnings)


def test_summaries_round_trip_and_a_system_names_every_failed_stream() -> None:
    a = StreamSummary("s", "a", "person", read=3, status="failed", error="boom")
    b = StreamSummary("s", "b", "person", read=1, status="failed", error="bang")
    a.warn("w1")
    a.warn("w1")  # the same warning once
    a.warn(None)
    status, error = system_status([a, b, StreamSummary("s", "c", None)])
    assert status == "failed" and error == "a: boom; b: bang"
    summary = RunSummary("r", "failed", "2026-01-01T00:00:00+00:00", 1.0,
                         [SystemSummary("s", status, error, [a, b])], notes=["n"])
    data = summary.to_dict()
    assert data["systems"][0]["streams"][0]["quality_warning"] == "w1"
    back = RunSummary.from_dict(yaml.safe_load(yaml.safe_dump(data)))
    assert back == summary
    # a summary written before ``warnings`` existed keeps its one warning
    old = {"system": "s", "stream": "a", "entity": None, "quality_warning": "old"}
    assert StreamSummary.from_dict(old).warnings == ["old"]

"""The pipeline end to end on a small SQLite source system: publish, quarantine, rerun."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from hrss_hub.cli import main
from hrss_hub.config import load_config
from hrss_hub.errors import ConfigError
from hrss_hub.exchange.reading import read_version
from hrss_hub.pipeline import run

CONNECTOR = {
    "system": "hr_db",
    "kind": "sql",
    "connection": {"url": "sqlite:///src.db"},
    "batch_size": 2,
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
            },
        },
    }],
}
ROWS = [
    (1, "11010519491231002X", "王芳", "女", "1949年12月31日", "2026-01-01T00:00:00"),
    (2, "34052419800101001x", "阿依古丽・买买提", "男", "1980/1/1", "2026-01-01T00:00:00"),
    (3, "340524198001010011", "坏号", "男", "1980/1/1", "2026-01-01T00:00:01"),
    (4, "610104620927690", "张三", "女", "1962-09-27", "2026-01-02T00:00:00"),
    (5, "11010519491231002X", "王芳", "女", "1949-12-31", "2026-01-02T00:00:00"),
]


def make_workspace(tmp_path: Path, connector: dict | None = None) -> Path:
    (tmp_path / "connectors").mkdir()
    (tmp_path / "hub.yaml").write_text("hub_id: test-hub\n"
                                       "level: district\ndivision: '510107'\n", encoding="utf-8")
    (tmp_path / "connectors" / "hr_db.yaml").write_text(
        yaml.safe_dump(connector or CONNECTOR, allow_unicode=True), encoding="utf-8")
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, sex TEXT,"
                   " born TEXT, updated TEXT)")
        db.executemany("INSERT INTO staff VALUES (?,?,?,?,?,?)", ROWS)
    return tmp_path


def test_run_publishes_quarantines_and_is_incremental(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    cfg = load_config(ws / "hub.yaml")
    summary = run(cfg)
    stream = summary.systems[0].streams[0]
    assert stream.status == "succeeded", stream.error
    assert (stream.read, stream.published, stream.quarantined) == (5, 3, 2)
    assert stream.quarantined_by_rule == {"citizen_id_invalid": 1, "duplicate_key": 1}
    published = read_version(ws / "exchange", "person").to_pylist()
    by_key = {r["source_key"]: r for r in published}
    assert by_key["2"]["name"] == "阿依古丽·买买提"
    assert by_key["4"]["citizen_id"] == "610104196209276908"
    quarantine = pq.read_table(stream.quarantine_file).to_pylist()
    assert sorted((q["location"], q["rules"]) for q in quarantine) == [
        ("staff[id=3]", ["citizen_id_invalid"]), ("staff[id=5]", ["duplicate_key"])]

    again = run(cfg).systems[0].streams[0]
    assert (again.read, again.published, again.quarantined) == (0, 0, 0)

    with sqlite3.connect(ws / "src.db") as db:
        db.execute("INSERT INTO staff VALUES (6, '11010519491231002X', '王芳', '女', "
                   "'1949-12-31', '2026-02-01T00:00:00')")
    third = run(cfg).systems[0].streams[0]
    # the key was published by an earlier run: an update, not a duplicate within this run
    assert (third.read, third.published, third.quarantined) == (1, 1, 0)
    # version 3 holds the latest record per key: the update replaced person 1's row
    assert read_version(ws / "exchange", "person").num_rows == 3
    assert read_version(ws / "exchange", "person", 1).num_rows == 3


def test_bad_mapping_stops_before_running(tmp_path: Path) -> None:
    bad = yaml.safe_load(yaml.safe_dump(CONNECTOR))
    bad["streams"][0]["mapping"]["fields"]["birthdate"] = "born"
    ws = make_workspace(tmp_path, bad)
    with pytest.raises(ConfigError) as info:
        run(load_config(ws / "hub.yaml"))
    assert "birthdate" in str(info.value) and "birth_date" in str(info.value)
    assert "hr_db.yaml" in str(info.value)


def test_cli_run_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path)
    assert main(["run", "--config", str(ws / "hub.yaml"), "--json", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert '"published": 3' in out
    (ws / "src.db").unlink()
    (ws / "src.db").write_bytes(b"not a database")
    assert main(["run", "--config", str(ws / "hub.yaml"), "--quiet"]) == 1
    text = capsys.readouterr()
    assert "Traceback" not in text.out + text.err


def test_released_rows_are_published_once_and_fixed_rows_resolve(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path)
    cfg = load_config(ws / "hub.yaml")
    first = run(cfg).systems[0].streams[0]
    assert first.quarantined_by_rule == {"citizen_id_invalid": 1, "duplicate_key": 1}
    # a steward vouches for row 3 as written (its ID fails the checksum)
    assert main(["quarantine", "release", "3", "--system", "hr_db", "--by", "auditor-li",
                 "--reason", "checked the paper file", "--config", str(ws / "hub.yaml")]) == 0
    second = run(cfg).systems[0].streams[0]
    assert (second.read, second.published, second.published_released) == (0, 1, 1)
    row = read_version(ws / "exchange", "person").to_pandas().set_index("source_key").loc["3"]
    assert row["citizen_id"] == "340524198001010011"  # restored from the offending value
    third = run(cfg).systems[0].streams[0]
    assert (third.published, third.published_released) == (0, 0)

    # the source fixes row 5's duplicate by giving it its own person: re-evaluated, published
    with sqlite3.connect(ws / "src.db") as db:
        db.execute("UPDATE staff SET idno = '110105194912310046', name = '王芬', "
                   "updated = '2026-03-01T00:00:00' WHERE id = 5")
    fourth = run(cfg).systems[0].streams[0]
    assert (fourth.read, fourth.published, fourth.quarantined) == (1, 1, 0)
    capsys.readouterr()
    assert main(["quarantine", "list", "--config", str(ws / "hub.yaml"), "--json"]) == 0
    listed = {r["row_key"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert listed == {"3": "released", "5": "resolved"}


def test_schema_drift_policies(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    cfg = load_config(ws / "hub.yaml")
    run(cfg)
    with sqlite3.connect(ws / "src.db") as db:
        db.execute("ALTER TABLE staff ADD COLUMN dept TEXT")
        db.execute("INSERT INTO staff VALUES (7, '110105194912310046', '王芬', '女', "
                   "'1949-12-31', '2026-03-01T00:00:00', '人事科')")
    failed = run(cfg).systems[0]
    assert failed.status == "failed"
    assert "dept" in (failed.error or "") and "drift: evolve" in (failed.error or "")
    assert failed.streams[0].published == 0  # nothing published, the watermark stays

    doc = yaml.safe_load((ws / "connectors" / "hr_db.yaml").read_text(encoding="utf-8"))
    doc["streams"][0]["drift"] = "evolve"
    (ws / "connectors" / "hr_db.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                                  encoding="utf-8")
    evolved = run(cfg).systems[0].streams[0]
    assert evolved.status == "succeeded" and (evolved.read, evolved.published) == (1, 1)
    assert evolved.schema_drift is not None and "dept" in evolved.schema_drift
    # the new schema is the reference now: no drift on the next run
    assert run(cfg).systems[0].streams[0].schema_drift is None


def test_plain_progress_lines_when_not_a_terminal(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path)
    assert main(["run", "--config", str(ws / "hub.yaml")]) == 0
    captured = capsys.readouterr()
    assert "[hr_db/staff] started" in captured.err
    # the SQLite source's COUNT(*): the estimate the progress lines measure against
    assert "[hr_db/staff] about 5 rows to read" in captured.err
    assert "[hr_db/staff] succeeded: read 5, published 3, quarantined 2" in captured.err
    assert "quarantined by rule" in captured.out and "citizen_id_invalid" in captured.out


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_json_and_quiet_print_no_progress(tmp_path: Path, flag: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path)
    assert main(["run", "--config", str(ws / "hub.yaml"), flag]) == 0
    captured = capsys.readouterr()
    assert "[hr_db/staff]" not in captured.err and "rows to read" not in captured.err
    assert captured.err == ""
    if flag == "--json":
        assert json.loads(captured.out)["status"] == "succeeded"
    else:
        assert captured.out.count("\n") == 1 and captured.out.startswith("run ")


def test_airflow_task_log_gets_the_progress_lines(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from hrss_hub.airflow.tasks import PROGRESS_LOGGER, task_log_progress
    from hrss_hub.pipeline import run_one_stream, start_run

    ws = make_workspace(tmp_path)
    cfg = load_config(ws / "hub.yaml")
    run_id = start_run(cfg, trigger="airflow", systems=["hr_db"])
    with caplog.at_level("INFO", logger=PROGRESS_LOGGER):
        summary = run_one_stream(cfg, "hr_db", "staff", run_id,
                                 progress=task_log_progress(interval=0))
    lines = [r.getMessage() for r in caplog.records if r.name == PROGRESS_LOGGER]
    assert summary.read == 5
    assert lines[:2] == ["[hr_db/staff] started", "[hr_db/staff] about 5 rows to read"]
    assert any(line.startswith("[hr_db/staff] 5 / 5 rows (100%)") and "ETA 0:00:00" in line
               for line in lines)
    assert lines[-1].startswith("[hr_db/staff] succeeded: read 5")


def test_a_publish_failure_fails_the_run_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path)
    # settings are resolved when the workspace is loaded (env over hub.yaml), once
    monkeypatch.setenv("HRSS_HUB_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nbroken\n")
    broken = run(load_config(ws / "hub.yaml"))
    assert broken.failed and broken.status == "failed"
    assert broken.publish_error and "staged data is kept" in broken.publish_error
    assert "broken" not in broken.publish_error  # key material never echoed
    assert not (ws / "exchange" / "person" / "_delta_log").exists()
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY")
    fixed = run(load_config(ws / "hub.yaml"))
    assert not fixed.failed
    assert fixed.systems[0].streams[0].read == 0  # the watermark had moved: rows were staged
    assert read_version(ws / "exchange", "person").num_rows == 3

"""Workspaces and runners shared by the Airflow tests (imported by their conftest).

Importing this module points Airflow at a throw-away home and SQLite metadata DB: Airflow
reads its configuration once per process, when first imported, so this must happen before
any test imports Airflow (the conftest imports this module at collection time).
"""


from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
RUNNER = Path(__file__).with_name("run_dag.py")
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")

_HOME = Path(tempfile.mkdtemp(prefix="hrss-airflow-home-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
}
os.environ.update(AIRFLOW_ENV)

# a SQL source and a CSV drop, both mapped onto the standard's person entity
SQL_CONNECTOR: dict[str, Any] = {
    "system": "hr_db",
    "title": "人事数据库",
    "kind": "sql",
    "connection": {"url": "sqlite:///src.db"},
    "batch_size": 2,
    "schedule": "@daily",
    "retries": 3,
    "retry_delay_seconds": 30,
    "owner": "hr-team",
    "tags": ["personnel"],
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
                "gender": {"from": "sex", "map": {"男": "1", "女": "2"},
                           "fallback": "quarantine"},
                "birth_date": {"from": "born", "normalize": "date"},
            },
        },
    }],
}
SQL_ROWS = [
    (1, "11010519491231002X", "王芳", "女", "1949年12月31日", "2026-01-01T00:00:00"),
    (2, "34052419800101001x", "阿依古丽・买买提", "男", "1980/1/1", "2026-01-01T00:00:00"),
    (3, "340524198001010011", "坏号", "男", "1980/1/1", "2026-01-01T00:00:01"),
    (4, "610104620927690", "张三", "女", "1962-09-27", "2026-01-02T00:00:00"),
    (5, "11010519491231002X", "王芳", "女", "1949-12-31", "2026-01-02T00:00:00"),
]
CSV_CONNECTOR: dict[str, Any] = {
    "system": "filings",
    "kind": "files",
    "connection": {"path": "drop"},
    "schedule": "0 2 * * *",
    "retries": 1,
    "retry_delay_seconds": 5,
    "tags": ["contracts"],
    "streams": [{
        "name": "people",
        "pattern": "*.csv",
        "format": "csv",
        "primary_key": ["编号"],
        "mapping": {
            "entity": "person",
            "source_key": ["编号"],
            "fields": {
                "citizen_id": "身份证号",
                "id_type": {"const": "01"},
                "name": {"from": "姓名", "normalize": "name"},
                "gender": {"from": "性别", "map": {"男": "1", "女": "2"},
                           "fallback": "quarantine"},
                "birth_date": {"from": "出生日期", "normalize": "date"},
            },
        },
    }],
}
CSV_TEXT = ("编号,身份证号,姓名,性别,出生日期\n"
            "c1,11010519491231002X,王芳,女,1949-12-31\n"
            "c2,110105194912310021,错号,女,1949-12-31\n"
            "c3,610104620927690,张三,女,1962年9月27日\n")


def write_connector(ws: Path, connector: dict[str, Any], name: str | None = None) -> Path:
    """Write ``connectors/<name>.yaml`` into workspace ``ws``."""
    path = ws / "connectors" / f"{name or connector['system']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(connector, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def make_workspace(ws: Path, *connectors: dict[str, Any]) -> Path:
    """A workspace with the SQLite source, the CSV drop and the given connector files."""
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "hub.yaml").write_text("hub_id: test-hub\n"
                                 "level: district\ndivision: '510107'\n", encoding="utf-8")
    (ws / "connectors").mkdir(exist_ok=True)
    with sqlite3.connect(ws / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT,"
                   " sex TEXT, born TEXT, updated TEXT)")
        db.executemany("INSERT INTO staff VALUES (?,?,?,?,?,?)", SQL_ROWS)
    (ws / "drop").mkdir()
    (ws / "drop" / "people.csv").write_text(CSV_TEXT, encoding="utf-8")
    for connector in connectors:
        write_connector(ws, connector)
    return ws


def connectors_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """Deep copies of the two test connectors (tests may edit them)."""
    return copy.deepcopy(SQL_CONNECTOR), copy.deepcopy(CSV_CONNECTOR)


def run_dags(env: dict[str, str], config: Path, *dag_ids: str,
             extra_env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """``dag.test()`` each DAG in one subprocess; ``{dag_id: {"state", "tasks"}}``."""
    return run_dags_with_events(env, config, *dag_ids, extra_env=extra_env)[0]


def run_dags_with_events(env: dict[str, str], config: Path, *dag_ids: str,
                         extra_env: dict[str, str] | None = None
                         ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """:func:`run_dags` plus the asset events in the metadata DB afterwards (oldest first:
    ``uri``, ``dag_id``, ``task_id``, ``extra``)."""
    full = {**env, "HRSS_HUB_CONFIG": str(config), **(extra_env or {})}
    done = subprocess.run([sys.executable, str(RUNNER), *dag_ids], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    results = {}
    events: list[dict[str, Any]] = []
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            item = json.loads(line[len("RESULT "):])
            results[item["dag_id"]] = item
        elif line.startswith("EVENTS "):
            events = json.loads(line[len("EVENTS "):])
    assert done.returncode == 0 and set(results) == set(dag_ids), (
        done.stdout[-4000:] + done.stderr[-6000:])
    return results, events


def task_states(result: dict[str, Any]) -> dict[str, str]:
    """``task_id`` (``task_id[i]`` for mapped ones) → final state."""
    return {(t["task_id"] if t["map_index"] < 0 else f"{t['task_id']}[{t['map_index']}]"):
            t["state"].rsplit(".", 1)[-1].lower() for t in result["tasks"]}

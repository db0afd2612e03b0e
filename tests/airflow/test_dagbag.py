"""The DAG folder parses cleanly: one DAG per connector file, built from the YAML alone."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_ws import AIRFLOW_ENV, DAGS, ROOT, connectors_pair, make_workspace, write_connector


def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def workspace(tmp_path: Path, config_env: Any) -> Path:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    config_env(ws)
    return ws


def test_dag_ids_schedules_retries_and_structure(workspace: Path) -> None:
    bag = dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"hrss_sync_hr_db", "hrss_sync_filings", "hrss_publish"}

    hr = bag.dags["hrss_sync_hr_db"]
    assert hr.schedule == "@daily"
    assert (hr.catchup, hr.max_active_runs) == (False, 1)
    assert hr.default_args["retries"] == 3
    assert hr.default_args["retry_delay"] == timedelta(seconds=30)
    assert hr.default_args["owner"] == "hr-team"
    assert set(hr.tags) == {"hrss-hub", "personnel"}
    tasks = {t.task_id: t for t in hr.tasks}
    assert set(tasks) == {"start_run", "sync_stream", "finish_run", "check_run",
                          "quality_report"}
    assert tasks["sync_stream"].retries == 3
    assert tasks["sync_stream"].retry_delay == timedelta(seconds=30)
    assert tasks["start_run"].downstream_task_ids == {"sync_stream", "finish_run"}
    assert tasks["sync_stream"].downstream_task_ids == {"finish_run"}
    assert tasks["finish_run"].downstream_task_ids == {"check_run", "quality_report"}
    assert tasks["finish_run"].trigger_rule == "all_done"
    assert [a.uri for a in tasks["finish_run"].outlets] == ["hrss://entity/person"]
    # the stream list is static (from the YAML): one mapped task instance per stream
    assert tasks["sync_stream"].op_kwargs_expand_input.value["stream"] == ["staff"]

    filings = bag.dags["hrss_sync_filings"]
    assert filings.schedule == "0 2 * * *"
    assert str(filings.timezone.name) == "Asia/Shanghai"
    assert filings.default_args["retries"] == 1
    assert filings.default_args["owner"] == "hrss-hub"  # the default

    publish = bag.dags["hrss_publish"]
    assert "hrss://entity/person" in repr(publish.timetable.asset_condition)
    for dag in bag.dags.values():
        dag.check_cycle()  # raises on a cycle


def test_a_new_connector_file_makes_a_new_dag(workspace: Path) -> None:
    assert "hrss_sync_payroll" not in dagbag().dag_ids
    payroll, _ = connectors_pair()
    payroll.update(system="payroll", schedule="@weekly", retries=0)
    payroll["streams"][0]["mapping"]["entity"] = "employer"
    write_connector(workspace, payroll)

    bag = dagbag()
    assert bag.import_errors == {}
    dag = bag.dags["hrss_sync_payroll"]
    assert dag.schedule == "@weekly"
    assert dag.default_args["retries"] == 0
    publish = repr(bag.dags["hrss_publish"].timetable.asset_condition)
    assert "hrss://entity/employer" in publish and "hrss://entity/person" in publish


def test_a_broken_connector_file_does_not_hide_the_others(workspace: Path) -> None:
    (workspace / "connectors" / "broken.yaml").write_text("system: broken\nstreams: [\n",
                                                          encoding="utf-8")
    bad_cron, _ = connectors_pair()
    bad_cron.update(system="bad_cron", schedule="every tuesday-ish")
    write_connector(workspace, bad_cron)

    bag = dagbag()
    assert bag.import_errors == {}
    assert {"hrss_sync_hr_db", "hrss_sync_filings"} <= set(bag.dag_ids)
    for dag_id, words in [("hrss_sync_broken", "broken.yaml"),
                          ("hrss_sync_bad_cron", "every tuesday-ish")]:
        dag = bag.dags[dag_id]
        assert [t.task_id for t in dag.tasks] == ["config_error"]
        assert dag.schedule is None
        assert "config-error" in dag.tags and words in (dag.doc_md or "")


def test_missing_config_is_an_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRSS_HUB_CONFIG", raising=False)
    errors = dagbag().import_errors
    assert len(errors) == 1
    assert "HRSS_HUB_CONFIG" in next(iter(errors.values()))


def test_parsing_imports_no_engine_and_no_pyarrow(workspace: Path) -> None:
    # the dag-processor parses every few seconds: no engine, Arrow, DB driver or connector
    # code may be imported at DAG-file top level
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(DAGS / 'hrss_hub_dags.py')!r})\n"
        "heavy = ['pyarrow', 'hrss_hub.pipeline', 'hrss_hub.ledger', 'hrss_hub.exchange',\n"
        "         'hrss_hub.connectors.base', 'hrss_hub.connectors.registry',\n"
        "         'hrss_hub.connectors.sql', 'hrss_hub.connectors.rest',\n"
        "         'hrss_hub.connectors.files', 'hrss_hub.mapping.compile',\n"
        "         'hrss_hub.quality', 'psycopg', 'pymysql', 'requests',\n"
        "         'great_expectations', 'pandas']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**AIRFLOW_ENV, "PATH": "/usr/bin:/bin",
           "HRSS_HUB_CONFIG": str(workspace / "hub.yaml")}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_demo_templates_parse_to_dags(tmp_path: Path, config_env: Any) -> None:
    from importlib import resources

    ws = tmp_path / "demo"
    (ws / "connectors").mkdir(parents=True)
    tpl = resources.files("hrss_hub.demo") / "templates"
    (ws / "hub.yaml").write_text((tpl / "hub.yaml").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    for name in ("si_core", "employment", "contracts", "personnel"):
        (ws / "connectors" / f"{name}.yaml").write_text(
            (tpl / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config_env(ws)
    bag = dagbag()
    assert bag.import_errors == {}
    assert {f"hrss_sync_{n}" for n in ("si_core", "employment", "contracts", "personnel")} \
        <= set(bag.dag_ids)
    si = yaml.safe_load((ws / "connectors" / "si_core.yaml").read_text(encoding="utf-8"))
    task = bag.dags["hrss_sync_si_core"].get_task("sync_stream")
    assert task.op_kwargs_expand_input.value["stream"] == [s["name"] for s in si["streams"]]


def test_queue_per_system_or_level(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_HUB_AIRFLOW_QUEUE", "hrss_{system}_{level}")
    bag = dagbag()
    assert bag.import_errors == {}
    assert {t.queue for t in bag.dags["hrss_sync_hr_db"].tasks} == {"hrss_hr_db_district"}
    assert {t.queue for t in bag.dags["hrss_publish"].tasks} == {"hrss_publish_district"}


@pytest.mark.parametrize("template", [None, "hrss_{system}", "hrss_{level}"])
def test_worker_queues_cover_every_task_queue(workspace: Path, template: str | None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """#16.6: what ``python -m hrss_hub.airflow.queues`` prints is exactly the set of
    queues the DAGs' tasks use, the publish DAG's included (it sat queued when the README
    never named ``hrss_publish``)."""
    from hrss_hub.airflow.queues import main, worker_queues

    if template:
        monkeypatch.setenv("HRSS_HUB_AIRFLOW_QUEUE", template)
    bag = dagbag()
    used = {t.queue for dag in bag.dags.values() for t in dag.tasks}
    assert set(worker_queues(workspace / "hub.yaml")) == used
    if template == "hrss_{system}":
        assert "hrss_publish" in used
    assert main([str(workspace / "hub.yaml")]) == 0

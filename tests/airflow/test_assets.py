"""#15.17: Airflow Assets a consuming department can schedule on — per entity after
publishing (never before) and one per recipient outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_ws import DAGS, connectors_pair, make_workspace, run_dags_with_events

pytestmark = pytest.mark.slow

AGREEMENT = {
    "recipient": {"id": "civil-affairs", "name": "民政局", "level": "district",
                  "division": "510107"},
    "purpose": "低保核对",
    "legal_basis": "《社会救助暂行办法》第十一条",
    "valid_from": "2026-01-01",
    "valid_to": "2099-12-31",
    "datasets": {"person": {"columns": {"citizen_id": "keep", "name": "partial",
                                        "gender": "keep"}}},
}


def _workspace(tmp_path: Path) -> Path:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    (ws / "sharing").mkdir()
    (ws / "sharing" / "civil-affairs.yaml").write_text(
        yaml.safe_dump(AGREEMENT, allow_unicode=True), encoding="utf-8")
    (ws / "keys").mkdir(exist_ok=True)
    return ws


def test_publish_dag_outlets_are_published_entities_and_outboxes(
        tmp_path: Path, config_env: Any) -> None:
    from airflow.dag_processing.dagbag import DagBag

    config_env(_workspace(tmp_path))
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    publish = bag.dags["hrss_publish"].get_task("publish")
    assert {a.uri for a in publish.outlets} == {"hrss://published/person",
                                                "hrss://outbox/civil-affairs"}
    # the sync DAGs announce staged updates only (they trigger hrss_publish)
    finish = bag.dags["hrss_sync_hr_db"].get_task("finish_run")
    assert {a.uri for a in finish.outlets} == {"hrss://entity/person"}


def test_published_and_outbox_events_come_from_the_publish_task(
        tmp_path: Path, airflow_db: dict[str, str]) -> None:
    ws = _workspace(tmp_path)
    results, events = run_dags_with_events(airflow_db, ws / "hub.yaml", "hrss_sync_hr_db",
                                           "hrss_publish")
    assert all(r["state"].endswith("success") for r in results.values()), results
    published = [e for e in events if e["uri"] == "hrss://published/person"]
    outbox = [e for e in events if e["uri"] == "hrss://outbox/civil-affairs"]
    staged = [e for e in events if e["uri"] == "hrss://entity/person"]
    assert [(e["dag_id"], e["task_id"]) for e in staged] == [("hrss_sync_hr_db", "finish_run")]
    assert [(e["dag_id"], e["task_id"]) for e in published] == [("hrss_publish", "publish")]
    assert [(e["dag_id"], e["task_id"]) for e in outbox] == [("hrss_publish", "publish")]
    # after publishing: the event names the version it announces, and the delivery
    assert events.index(staged[0]) < events.index(published[0])
    extra = published[0]["extra"]
    assert extra["runs"] and extra["changed"] == bool(extra["versions"])
    assert "deliveries" in outbox[0]["extra"], outbox[0]

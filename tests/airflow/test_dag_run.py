"""``dag.test()`` end to end on a temporary SQLite Airflow metadata DB.

The DAGs must give exactly what ``hrss_hub.pipeline.run`` gives for the same workspace
(the CLI and Airflow call the same engine functions), rerun idempotently, retry a source
that is down as its YAML says and record the failure in the ledger without touching the
other systems, and meet the demo world's answer key.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from airflow_ws import connectors_pair, make_workspace, run_dags, task_states

from hrss_hub.airflow.tasks import summary_from_dict
from hrss_hub.config import load_config
from hrss_hub.pipeline import RunSummary, SystemSummary, run

pytestmark = pytest.mark.slow


def runs(ws: Path, *, publish: bool = False) -> list[dict[str, Any]]:
    """The sync runs (``publish``: the publish DAG's runs) in the workspace's ledger,
    oldest first, as dicts."""
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(load_config(ws / "hub.yaml").ledger_url)
    try:
        every = [r.to_dict() for r in reversed(ledger.recent_runs(100))]
    finally:
        ledger.close()
    return [r for r in every if ("systems" not in (r["summary"] or {})) == publish]


def audit(ws: Path, prefix: str = "airflow.") -> list[dict[str, Any]]:
    """The audit events whose action starts with ``prefix`` (oldest first)."""
    from hrss_hub.ledger.models import AuditEvent

    engine = sa.create_engine(load_config(ws / "hub.yaml").ledger_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(AuditEvent.action, AuditEvent.subject,
                                          AuditEvent.details)
                                .where(AuditEvent.action.startswith(prefix))
                                .order_by(AuditEvent.seq)).all()
    finally:
        engine.dispose()
    return [{"action": a, "subject": s, "details": d} for a, s, d in rows]


def stream_counts(summaries: list[RunSummary]) -> dict[str, tuple[Any, ...]]:
    """``system.stream`` → the numbers a run reports for it."""
    return {f"{s.system}.{st.stream}": (st.status, st.read, st.mapped, st.published,
                                        st.quarantined, st.quarantined_by_rule, st.filtered)
            for summary in summaries for s in summary.systems for st in s.streams}


def published(ws: Path, entity: str) -> list[tuple[Any, ...]]:
    """The current version of ``entity`` in the exchange, as sorted comparable rows."""
    from hrss_hub.exchange.reading import read_version

    table = read_version(ws / "exchange", entity)
    keep = [c for c in table.column_names if c not in ("run_id", "extracted_at")]
    return sorted(tuple(row.values()) for row in table.select(keep).to_pylist())


def test_dags_publish_what_the_pipeline_publishes_and_rerun_idempotently(
        tmp_path: Path, airflow_db: dict[str, str]) -> None:
    by_dag = make_workspace(tmp_path / "airflow", *connectors_pair())
    by_cli = make_workspace(tmp_path / "cli", *connectors_pair())
    # the CLI runs systems in name order; the person versions merge by key (last writer
    # wins the lineage columns), so the DAGs run in the same order
    dag_ids = ["hrss_sync_filings", "hrss_sync_hr_db"]

    results = run_dags(airflow_db, by_dag / "hub.yaml", *dag_ids, "hrss_publish", *dag_ids,
                       "hrss_publish")
    for dag_id in dag_ids:
        assert results[dag_id]["state"].endswith("success"), results[dag_id]
        states = task_states(results[dag_id])
        assert states["sync_stream[0]"] == "success"
        assert states["finish_run"] == states["check_run"] == "success"
    expected = run(load_config(by_cli / "hub.yaml"))
    assert not expected.failed

    ledger_runs = runs(by_dag)
    assert [r["trigger"] for r in ledger_runs] == ["airflow"] * 4
    assert all(r["status"] == "succeeded" for r in ledger_runs)
    first = [summary_from_dict(r["summary"]) for r in ledger_runs[:2]]
    assert stream_counts(first) == stream_counts([expected])
    assert published(by_dag, "person") == published(by_cli, "person")
    assert len(published(by_dag, "person")) == 3
    # one publisher: the sync runs staged, the publish DAG's runs cut the versions
    assert all(not (r["summary"] or {}).get("publishing") for r in ledger_runs)
    publishers = runs(by_dag, publish=True)
    assert [r["status"] for r in publishers] == ["succeeded"] * 2
    # person, and the person master derived from it (master.hooks.publish_run)
    assert sorted(v["dataset"] for v in publishers[0]["summary"]["versions"]) == [
        "person", "person_link", "person_master"]
    assert publishers[1]["summary"]["versions"] == []  # nothing new the second time

    # the second DAG run of each system (a rerun): nothing new read, nothing duplicated
    again = [summary_from_dict(r["summary"]) for r in ledger_runs[2:]]
    assert {k: v[1:4] for k, v in stream_counts(again).items()} == {
        "hr_db.staff": (0, 0, 0), "filings.people": (0, 0, 0)}
    assert published(by_dag, "person") == published(by_cli, "person")

    started = [e for e in audit(by_dag) if e["action"] == "airflow.run_started"]
    assert len(started) == 4
    assert {e["details"]["run_id"] for e in started} == {r["id"] for r in ledger_runs}


def test_a_source_that_is_down_is_retried_then_recorded_and_others_run(
        tmp_path: Path, airflow_db: dict[str, str]) -> None:
    good, _ = connectors_pair()
    down, _ = connectors_pair()
    # nothing listens on port 1: connection refused, a RetriableSourceError
    down.update(system="down", retries=1, retry_delay_seconds=0,
                connection={"url": "postgresql+psycopg://hub@127.0.0.1:1/nowhere"})
    ws = make_workspace(tmp_path / "ws", good, down)

    results = run_dags(airflow_db, ws / "hub.yaml", "hrss_sync_down", "hrss_sync_hr_db",
                       "hrss_publish")

    failed = results["hrss_sync_down"]
    assert failed["state"].endswith("failed")
    states = task_states(failed)
    assert states["sync_stream[0]"] == "failed"
    assert states["finish_run"] == "success"  # the run is recorded although a stream failed
    assert states["check_run"] == "failed"
    mapped = next(t for t in failed["tasks"] if t["task_id"] == "sync_stream")
    assert mapped["try_number"] == 2  # 1 try + retries: 1 from the YAML

    events = [e for e in audit(ws) if e["subject"] == "hrss_sync_down.sync_stream[staff]"]
    assert [e["action"] for e in events] == ["airflow.task_retry", "airflow.task_failed"]
    last = events[-1]["details"]
    assert (last["system"], last["stream"], last["try_number"]) == ("down", "staff", 2)
    assert last["error_type"] == "RetriableSourceError"
    assert "Connection refused" in last["error"] or "connection" in last["error"].lower()
    assert last["hub_run_id"]

    by_id = {r["id"]: r for r in runs(ws)}
    down_run = by_id[last["hub_run_id"]]
    assert down_run["status"] == "failed"
    assert "sync_stream[staff]" in down_run["error"]

    ok = results["hrss_sync_hr_db"]
    assert ok["state"].endswith("success"), ok
    others = [r for r in by_id.values() if r["id"] != last["hub_run_id"]]
    assert [r["status"] for r in others] == ["succeeded"]
    assert len(published(ws, "person")) == 3


def test_demo_world_under_airflow_meets_the_answer_key(
        tmp_path: Path, airflow_db: dict[str, str]) -> None:
    from hrss_hub.demo.generator import TOKEN_ENV, URL_ENV, demo_token, generate_world
    from hrss_hub.demo.server import start_server
    from hrss_hub.demo_tour import compare_with_key

    ws = tmp_path / "demo"
    key = generate_world(ws, persons=300, seed=11)
    systems = sorted(key["systems"])
    token = demo_token(ws)
    server = start_server(ws, port=0, token=token)
    try:
        results = run_dags(airflow_db, ws / "hub.yaml",
                           *[f"hrss_sync_{s}" for s in systems], "hrss_publish",
                           extra_env={TOKEN_ENV: token, URL_ENV: server.url})
    finally:
        server.stop()
    for dag_id, result in results.items():
        assert result["state"].endswith("success"), (dag_id, result)

    summaries = [summary_from_dict(r["summary"]) for r in runs(ws)]
    assert len(summaries) == len(systems)
    merged = RunSummary("airflow", "succeeded", "", 0.0,
                        [s for summary in summaries for s in summary.systems])
    assert all(isinstance(s, SystemSummary) for s in merged.systems)
    assert compare_with_key(merged, key) == []
    answer = json.loads((ws / "answer_key.json").read_text(encoding="utf-8"))
    assert answer["systems"] == key["systems"]
    shutil.rmtree(ws / "sources", ignore_errors=True)  # large; not needed after the asserts

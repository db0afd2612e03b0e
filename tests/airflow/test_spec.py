"""The parse-time reader agrees with the engine's connector loader; callbacks never raise."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from airflow_ws import connectors_pair, make_workspace

from hrss_hub.airflow.callbacks import TASK_FAILED, TaskEventRecorder
from hrss_hub.airflow.spec import read_system_specs
from hrss_hub.airflow.tasks import close_run, publish_runs, quality_report
from hrss_hub.config import load_config
from hrss_hub.pipeline import load_workspace_systems, start_run


def demo_workspace(ws: Path) -> Path:
    tpl = resources.files("hrss_hub.demo") / "templates"
    (ws / "connectors").mkdir(parents=True)
    (ws / "hub.yaml").write_text((tpl / "hub.yaml").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    for name in ("si_core", "employment", "contracts", "personnel"):
        (ws / "connectors" / f"{name}.yaml").write_text(
            (tpl / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return ws


def test_spec_agrees_with_the_engine_loader(tmp_path: Path) -> None:
    for ws in (demo_workspace(tmp_path / "demo"),
               make_workspace(tmp_path / "small", *connectors_pair())):
        specs = {s.system: s for s in read_system_specs(ws / "hub.yaml")}
        systems = load_workspace_systems(load_config(ws / "hub.yaml"))
        assert set(specs) == set(systems)
        for name, cfg in systems.items():
            spec = specs[name]
            assert spec.error is None
            assert (spec.schedule, spec.retries, spec.retry_delay_seconds, spec.owner,
                    list(spec.tags)) == (cfg.schedule, cfg.retries, cfg.retry_delay_seconds,
                                         cfg.owner, cfg.tags)
            assert [(s.name, s.entity) for s in spec.streams] == [
                (s.name, (s.mapping or {}).get("entity")) for s in cfg.streams]


def test_missing_stream_results_are_recorded_as_failed(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    cfg = load_config(ws / "hub.yaml")
    run_id = start_run(cfg)
    summary = close_run(ws / "hub.yaml", "hr_db", run_id, [("staff", "person")], [None])
    assert summary["status"] == "failed" and summary["failed_streams"] == ["staff"]
    assert quality_report(ws / "hub.yaml", run_id)["status"] in ("unavailable", "written")
    assert publish_runs(ws / "hub.yaml", [run_id])["status"] in ("unavailable", "published")


class FakeTI:
    dag_id, task_id, map_index, run_id = "hrss_sync_hr_db", "sync_stream", 0, "manual__x"
    try_number, max_tries = 2, 1

    def xcom_pull(self, task_ids: str) -> Any:
        return {"run_id": "hub-run-1"}


def test_callback_records_and_never_raises(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    recorder = TaskEventRecorder(ws / "hub.yaml", "hr_db", ["staff"], TASK_FAILED)
    error = RuntimeError("connect to postgresql://u:s3cret@db/x failed")
    subject, details = recorder.details({"ti": FakeTI(), "exception": error})
    assert subject == "hrss_sync_hr_db.sync_stream[staff]"
    assert details["stream"] == "staff" and details["hub_run_id"] == "hub-run-1"
    assert "s3cret" not in details["error"]
    recorder({"ti": FakeTI(), "exception": error})  # writes to the workspace ledger

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "hub.yaml").write_text("ledger_url: 'postgresql+psycopg://x@127.0.0.1:1/x'\n",
                                     encoding="utf-8")
    TaskEventRecorder(broken / "hub.yaml", "hr_db", ["staff"], TASK_FAILED)(
        {"ti": FakeTI(), "exception": error})  # logged, not raised

"""One parser for connector files: the DAG spec is what ``hrss-hub run`` loads.

(The spec used to be a second, hand-written reader kept in step by an equivalence test; now
it validates with the same models, so these tests check the one parser's behaviour at DAG
parse time.) Callbacks never raise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow_ws import ROOT, connectors_pair, make_workspace, write_connector

from hrss_hub.airflow.callbacks import TASK_FAILED, TASK_RETRY, TaskEventRecorder
from hrss_hub.airflow.spec import read_system_specs
from hrss_hub.airflow.tasks import (
    close_run,
    open_run,
    publish_runs,
    quality_report,
    sync_stream,
)
from hrss_hub.cli import main
from hrss_hub.config import load_config
from hrss_hub.errors import (
    ConfigError,
    HubError,
    LedgerError,
    RetriableSourceError,
    RunLockedError,
    SchemaDriftError,
    is_retriable,
    with_step,
)
from hrss_hub.ledger import Ledger
from hrss_hub.pipeline import load_workspace_systems, start_run
from hrss_hub.quality.suites import SuiteError
from hrss_hub.quality.thresholds import QualityThresholdError


def test_the_spec_is_read_from_the_validated_file(tmp_path: Path) -> None:
    sql, csv = connectors_pair()
    ws = make_workspace(tmp_path / "ws", sql, csv)
    specs = {s.system: s for s in read_system_specs(ws / "hub.yaml")}
    hr = specs["hr_db"]
    assert hr.error is None
    assert (hr.title, hr.schedule, hr.retries, hr.retry_delay_seconds, hr.owner, hr.tags) == (
        "人事数据库", "@daily", 3, 30, "hr-team", ("personnel",))
    assert [(s.name, s.entity) for s in hr.streams] == [("staff", "person")]
    filings = specs["filings"]
    # what the file leaves out gets the loader's defaults
    assert (filings.retries, filings.retry_delay_seconds, filings.owner) == (1, 5, "hrss-hub")
    assert filings.dag_id == "hrss_sync_filings" and filings.entities == ["person"]


def test_retries_written_as_text_are_valid_for_run_and_dag(tmp_path: Path) -> None:
    """Defect 12: ``retries: "3"`` was valid for ``hrss-hub run`` and an import error in
    Airflow (two parsers)."""
    sql, _ = connectors_pair()
    sql["retries"], sql["retry_delay_seconds"] = "3", "45"
    ws = make_workspace(tmp_path / "ws", sql)
    spec = read_system_specs(ws / "hub.yaml")[0]
    system = load_workspace_systems(load_config(ws / "hub.yaml"))["hr_db"]
    assert spec.error is None
    assert (spec.retries, spec.retry_delay_seconds) == (system.retries,
                                                        system.retry_delay_seconds) == (3, 45)


def test_an_invalid_file_is_refused_by_run_and_dag_alike(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 12: ``retries: "three"`` ended in a traceback."""
    sql, csv = connectors_pair()
    sql["retries"] = "three"
    sql["streams"][0]["drift"] = "evolv"
    ws = make_workspace(tmp_path / "ws", sql, csv)
    specs = {s.system: s for s in read_system_specs(ws / "hub.yaml")}
    assert specs["filings"].error is None  # one broken file hides nothing else
    error = specs["hr_db"].error or ""
    file = str(ws / "connectors" / "hr_db.yaml")
    assert error.startswith(f"2 problems in {file}:")
    assert "retries must be an integer, got 'three' [system=hr_db" in error
    assert "line=8, path=retries" in error
    assert "unknown drift policy 'evolv'" in error and "did you mean 'evolve'" in error

    with pytest.raises(SystemExit) as exit_:
        main(["run", "--config", str(ws / "hub.yaml")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert error in err  # the same problems, word for word


def test_a_wrong_hub_yaml_is_the_dag_files_import_error(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    (ws / "hub.yaml").write_text("hub_id: x\nlevel: district\n", encoding="utf-8")
    from hrss_hub.config import ConfigProblems

    with pytest.raises(ConfigProblems, match="division is required"):
        read_system_specs(ws / "hub.yaml")


def test_spec_and_config_modules_import_no_arrow_sqlalchemy_or_gx(tmp_path: Path) -> None:
    """The DAG-parse path (hub.yaml, connector files with their mappings, agreements)
    validates with the full models without importing the engine's heavy dependencies."""
    sql, csv = connectors_pair()
    ws = make_workspace(tmp_path / "ws", sql, csv)
    bad = dict(sql, system="bad", retries="three")
    write_connector(ws, bad)
    (ws / "sharing").mkdir()
    (ws / "sharing" / "a.yaml").write_text(
        "recipient: {id: civil-affairs, name: 民政局}\npurpose: p\nlegal_basis: l\n"
        "valid_from: 2026-01-01\nvalid_to: 2027-01-01\n"
        "datasets: {person: {columns: {gender: keep}}}\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from hrss_hub.airflow.spec import read_system_specs\n"
        "from hrss_hub.config import load_config\n"
        "from hrss_hub.config.sharing import AgreementFile\n"
        "from hrss_hub.config.validation import validate_doc\n"
        "from hrss_hub.config.yamldoc import read_yaml\n"
        f"specs = read_system_specs({str(ws / 'hub.yaml')!r})\n"
        "print(sorted((s.system, s.error is None) for s in specs))\n"
        f"cfg = load_config({str(ws / 'hub.yaml')!r})\n"
        "a = validate_doc(AgreementFile, read_yaml(Path(cfg.sharing_dir) / 'a.yaml', 'x'))\n"
        "print(a.recipient.id)\n"
        "heavy = ['pyarrow', 'sqlalchemy', 'great_expectations', 'pandas', 'hrss_hub.pipeline',\n"
        "         'hrss_hub.connectors.base', 'hrss_hub.connectors.registry',\n"
        "         'hrss_hub.mapping.compile', 'hrss_hub.exchange', 'hrss_hub.ledger']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines == ["[('bad', False), ('filings', True), ('hr_db', True)]", "civil-affairs",
                     "[]"]


def test_missing_stream_results_are_recorded_as_failed(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    cfg = load_config(ws / "hub.yaml")
    run_id = start_run(cfg)
    summary = close_run(ws / "hub.yaml", "hr_db", run_id, [("staff", "person")], [None])
    assert summary["status"] == "failed" and summary["failed_streams"] == ["staff"]
    assert quality_report(ws / "hub.yaml", run_id)["status"] == "written"
    assert publish_runs(ws / "hub.yaml", [run_id])["status"] == "published"


def test_a_failed_system_names_every_failed_stream(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    run_id = start_run(load_config(ws / "hub.yaml"), systems=["hr_db"])
    close_run(ws / "hub.yaml", "hr_db", run_id, [("staff", "person"), ("extra", "person")],
              [None, None])
    with Ledger.open(load_config(ws / "hub.yaml").ledger_url) as led:
        info = led.get_run(run_id)
        assert led.run_locks() == []  # closing the run released its lock
    assert info is not None and info.error is not None
    assert "staff:" in info.error and "extra:" in info.error


def test_a_retried_stream_task_reports_the_committed_counts(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    run_id = open_run(ws / "hub.yaml", "hr_db", dag_id="hrss_sync_hr_db",
                      airflow_run_id="manual__1")["run_id"]
    first = sync_stream(ws / "hub.yaml", "hr_db", "staff", run_id)
    # the task committed, then its supervisor died: Airflow runs it again
    retried = sync_stream(ws / "hub.yaml", "hr_db", "staff", run_id)
    counts = ("read", "mapped", "published", "quarantined", "filtered", "quarantined_by_rule",
              "quarantine_file")
    assert first["read"] > 0 and not first["recovered"]
    assert {k: retried[k] for k in counts} == {k: first[k] for k in counts}
    assert retried["recovered"]


def test_a_second_airflow_run_of_one_system_waits_for_the_first(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    open_run(ws / "hub.yaml", "hr_db", dag_id="hrss_sync_hr_db", airflow_run_id="a")
    with pytest.raises(RunLockedError) as info:
        open_run(ws / "hub.yaml", "hr_db", dag_id="hrss_sync_hr_db", airflow_run_id="b")
    assert is_retriable(info.value)  # Airflow retries it as the connector file says
    # another system of the same workspace runs in parallel
    open_run(ws / "hub.yaml", "filings", dag_id="hrss_sync_filings", airflow_run_id="c")


@pytest.mark.parametrize(("error", "fatal"), [
    (QualityThresholdError("too many rows fail"), True),
    (SuiteError("unknown expectation"), True),
    (ConfigError("bad retries"), True),
    (SchemaDriftError("column dropped"), True),
    (RetriableSourceError("connection refused"), False),
    (RunLockedError("another run"), False),
    (LedgerError("database is locked"), False),
])
def test_fatal_errors_fail_the_task_at_once(error: HubError, fatal: bool) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from hrss_hub.airflow.factory import fail_fast

    def body() -> None:
        raise with_step(error, step="sync_stream", system="hr_db", stream="staff",
                        run_id="r1")

    expected: type[BaseException] = AirflowFailException if fatal else type(error)
    with pytest.raises(expected) as info:
        fail_fast(body)
    assert "stream=staff" in str(info.value) and "run_id=r1" in str(info.value)


class FakeTI:
    dag_id, task_id, map_index, run_id = "hrss_sync_hr_db", "sync_stream", 0, "manual__x"
    try_number, max_tries = 2, 1

    def xcom_pull(self, task_ids: str) -> Any:
        return {"run_id": "hub-run-1"}


def test_a_retry_is_audited_once_with_its_error_text(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", *connectors_pair())
    recorder = TaskEventRecorder(ws / "hub.yaml", "hr_db", ["staff"], TASK_RETRY)
    # a killed worker: the task runner and the scheduler both call back, without exception
    recorder({"ti": FakeTI(), "reason": "Task exited with return code -9"})
    recorder({"ti": FakeTI()})
    with Ledger.open(load_config(ws / "hub.yaml").ledger_url) as led:
        events = led.audit_events(TASK_RETRY, "hrss_sync_hr_db.sync_stream[staff]")
    assert len(events) == 1
    assert events[0]["error"] == "Task exited with return code -9"
    _, details = recorder.details({"ti": FakeTI()})
    assert details["error"] and "killed" in details["error"]


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
    (broken / "hub.yaml").write_text("level: district\ndivision: '510107'\n"
                                     "ledger_url: 'postgresql+psycopg://x@127.0.0.1:1/x'\n",
                                     encoding="utf-8")
    TaskEventRecorder(broken / "hub.yaml", "hr_db", ["staff"], TASK_FAILED)(
        {"ti": FakeTI(), "exception": error})  # logged, not raised

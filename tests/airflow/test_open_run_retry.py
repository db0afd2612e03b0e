"""A ``start_run`` task whose worker is killed after it opened the hub run: its retry
resumes that run instead of finding the system locked by it for the 30-minute lease.

Seen on the Celery topology (CI, 2026-12-03): the killed worker had also been running
``hrss_sync_civil_register.start_run``; all three attempts then failed with
``RunLockedError`` and the DAG run never finished.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hrss_hub.errors import RunLockedError

OPEN_THEN_DIE = """
import json, os, signal, sys
from hrss_hub.airflow import tasks
link = tasks.open_run(sys.argv[1], sys.argv[2], dag_id=sys.argv[3], airflow_run_id=sys.argv[4])
print(json.dumps(link), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # before Airflow could store the XCom
"""


def test_a_retry_of_a_killed_start_run_resumes_its_hub_run(tmp_path: Path) -> None:
    from hrss_hub.airflow import tasks
    from hrss_hub.config import load_config
    from hrss_hub.demo.generator import generate_world
    from hrss_hub.ledger import Ledger

    ws = tmp_path / "ws"
    key = generate_world(ws, persons=20, seed=3)
    system = sorted(key["systems"])[0]
    config = str(ws / "hub.yaml")
    dag_id = f"hrss_sync_{system}"
    killed = subprocess.run([sys.executable, "-c", OPEN_THEN_DIE, config, system, dag_id,
                             "manual__1"], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    opened = json.loads(killed.stdout.splitlines()[-1])

    retry = tasks.open_run(config, system, dag_id=dag_id, airflow_run_id="manual__1")
    assert retry == opened

    ledger = Ledger.open(load_config(config).ledger_url)
    try:
        assert [lk.holder for lk in ledger.run_locks()] == [opened["run_id"]]
        run = ledger.get_run(opened["run_id"])
        assert run is not None and run.status == "running"
        # the link is in the audit chain once, written with the run
        assert [e["run_id"] for e in ledger.audit_events(
            "airflow.run_started", f"{dag_id}/manual__1")] == [opened["run_id"]]
        assert ledger.verify_audit() == []
    finally:
        ledger.close()

    # another Airflow run of the same system is still refused while the first holds it
    with pytest.raises(RunLockedError):
        tasks.open_run(config, system, dag_id=dag_id, airflow_run_id="manual__2")

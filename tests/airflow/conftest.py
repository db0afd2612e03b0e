"""Fixtures for the Airflow tests: a throw-away Airflow home, workspaces, a DAG runner.

``airflow_ws`` (imported here, at collection time, before any test imports Airflow) sets
the Airflow environment. ``dag.test()`` runs happen in subprocesses (``run_dag.py``)
against a SQLite metadata DB migrated once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# the test modules import airflow_ws by name (like tests/expectations/demo_streams.py)
sys.path.insert(0, str(Path(__file__).parent))
from airflow_ws import AIRFLOW_BIN, AIRFLOW_ENV


@pytest.fixture
def config_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function pointing ``HRSS_HUB_CONFIG`` at a workspace for in-process parsing."""
    def point(ws: Path) -> None:
        monkeypatch.setenv("HRSS_HUB_CONFIG", str(ws / "hub.yaml"))
    yield point


@pytest.fixture(scope="session")
def airflow_db() -> dict[str, str]:
    """Migrate the session's SQLite Airflow metadata DB; the env to run Airflow with."""
    env = {**os.environ, **AIRFLOW_ENV}
    done = subprocess.run([str(AIRFLOW_BIN), "db", "migrate"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env

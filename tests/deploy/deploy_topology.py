"""Start and stop a real Airflow deployment for tests/deploy: api-server, scheduler,
dag-processor, triggerer and Celery workers as separate processes, on the machine's
PostgreSQL (metadata DB ``dep_airflow``) and Redis (db 11) — and remove every trace after.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
AIRFLOW = Path(sys.executable).with_name("airflow")
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS_DB = 11
META_DB = "dep_airflow"
LEDGER_DB = "dep_ledger"

_T = TypeVar("_T")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recreate_db(name: str) -> None:
    """Drop and create PostgreSQL database ``name``."""
    engine = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def drop_db(name: str) -> None:
    """Drop PostgreSQL database ``name`` (connections are closed by force)."""
    engine = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def flush_redis(db: int = REDIS_DB) -> None:
    """Empty Redis database ``db`` (the broker's queues)."""
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


def wait_for(what: str, check: Callable[[], _T | None], timeout: float,
             every: float = 1.0) -> _T:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` after
    ``timeout`` seconds (every wait of the test is bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Topology:
    """The running deployment: its environment, processes and logs."""

    home: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def meta_url(self) -> str:
        """SQLAlchemy URL of the Airflow metadata DB."""
        return f"{PG}/{META_DB}"

    def start(self, name: str, *args: str) -> None:
        """Start ``airflow <args>`` as process ``name`` in a session of its own (so that
        SIGKILL of the group takes its children with it), logging to ``<home>/<name>.log``."""
        log = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([str(AIRFLOW), *args], env=self.env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def airflow(self, *args: str, timeout: float = 120) -> str:
        """Run one ``airflow`` CLI command to completion; its output."""
        done = subprocess.run([str(AIRFLOW), *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done.stdout

    def trigger(self, dag_ids: list[str]) -> None:
        """Trigger a run of each DAG in one process (one Airflow import, not one per DAG)."""
        code = ("import sys\n"
                "from airflow.api.common.trigger_dag import trigger_dag\n"
                "from airflow.utils.types import DagRunTriggeredByType\n"
                "for dag_id in sys.argv[1:]:\n"
                "    trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.CLI)\n")
        done = subprocess.run([sys.executable, "-c", code, *dag_ids], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` on the metadata DB."""
        engine = sa.create_engine(self.meta_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()

    def kill(self, name: str) -> None:
        """SIGKILL process ``name`` and everything in its session."""
        proc = self.procs[name]
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after 20 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # the group too: a worker's pool children outlive a SIGTERMed parent
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        """The end of process ``name``'s log."""
        return (self.home / f"{name}.log").read_text(errors="replace")[-chars:]


def airflow_env(home: Path, config: Path, api_port: int, extra: dict[str, str]) -> dict[str, str]:
    """What every component is started with: CeleryExecutor on PostgreSQL and Redis."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "HRSS_HUB_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{PG}/{META_DB}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{PG}/{META_DB}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                                       "simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": "hrss-hub-deploy-test",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        # a killed worker's task is found within seconds, not the default 5 minutes
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "HRSS_HUB_CONFIG": str(config),
        "HRSS_HUB_LEDGER_URL": f"{PG}/{LEDGER_DB}",
        **extra,
    })
    return env


@contextmanager
def deployment(home: Path, config: Path, extra: dict[str, str],
               workers: int = 2) -> Iterator[Topology]:
    """The whole deployment, migrated and started; stopped and removed on exit."""
    api_port = free_port()
    recreate_db(META_DB)
    recreate_db(LEDGER_DB)
    flush_redis()
    topo = Topology(home, airflow_env(home, config, api_port, extra))
    try:
        topo.airflow("db", "migrate", timeout=240)
        topo.start("api-server", "api-server", "--port", str(api_port))
        topo.start("scheduler", "scheduler")
        topo.start("dag-processor", "dag-processor")
        topo.start("triggerer", "triggerer")
        for i in range(1, workers + 1):
            topo.start(f"worker{i}", "celery", "worker", "--celery-hostname", f"w{i}@%h",
                       "--concurrency", "2")
        yield topo
    finally:
        topo.stop()
        flush_redis()
        drop_db(META_DB)
        drop_db(LEDGER_DB)

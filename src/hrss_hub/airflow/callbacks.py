"""Airflow task callbacks that write retries and failures into the ledger's audit chain.

Airflow's own task log says *that* a task failed; the ledger is where the hub's operators
and auditors look (``hrss-hub ledger runs``, the audit chain), and it outlives Airflow's
metadata database. A callback must never raise: a broken ledger connection is logged and
the task's own outcome stands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: audit actions written by the callbacks
TASK_RETRY = "airflow.task_retry"
TASK_FAILED = "airflow.task_failed"

_MAX_ERROR = 2000


class TaskEventRecorder:
    """A callable for ``on_failure_callback`` / ``on_retry_callback`` of a system's tasks.

    Args:
        config_path: ``hub.yaml`` of the workspace (its ledger receives the event).
        system: the source system of the DAG.
        streams: the stream names in task-mapping order (map index → stream).
        action: :data:`TASK_RETRY` or :data:`TASK_FAILED`.
    """

    def __init__(self, config_path: str | Path, system: str, streams: Sequence[str],
                 action: str) -> None:
        self.config_path = str(config_path)
        self.system = system
        self.streams = list(streams)
        self.action = action

    def __call__(self, context: Mapping[str, Any]) -> None:
        """Record the event; log (never raise) when the ledger cannot be reached."""
        try:
            self.record(context)
        except Exception:  # a callback must not mask the task's own outcome
            log.exception("could not record %s for system %s in the ledger", self.action,
                          self.system)

    def details(self, context: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The audit subject and details for the task instance in ``context``."""
        from hrss_hub.errors import redact

        ti = context.get("ti") or context.get("task_instance")
        task_id = str(getattr(ti, "task_id", "?"))
        raw_index = getattr(ti, "map_index", None)
        map_index = -1 if raw_index is None else int(raw_index)
        stream = (self.streams[map_index]
                  if task_id == "sync_stream" and 0 <= map_index < len(self.streams) else None)
        error = context.get("exception")
        # a task whose worker died has no exception: the scheduler's callback says why
        # in ``reason`` / ``msg`` (heartbeat timeout, "process exited with code -9")
        fallback = context.get("reason") or context.get("msg")
        details: dict[str, Any] = {
            "system": self.system,
            "stream": stream,
            "dag_id": getattr(ti, "dag_id", None),
            "task_id": task_id,
            "map_index": map_index,
            "airflow_run_id": getattr(ti, "run_id", None),
            "try_number": getattr(ti, "try_number", None),
            "max_tries": getattr(ti, "max_tries", None),
            "hub_run_id": _hub_run_id(ti),
            "error_type": type(error).__name__ if error is not None else None,
            # HubError messages are already redacted; other exceptions may embed a URL
            "error": (redact(str(error))[:_MAX_ERROR] if error is not None
                      else redact(str(fallback))[:_MAX_ERROR] if fallback
                      else "no error in the callback context: the task's process ended "
                           "without reporting one (e.g. its worker was killed)"),
        }
        subject = f"{details['dag_id']}.{task_id}" + (f"[{stream}]" if stream else "")
        return subject, details

    def record(self, context: Mapping[str, Any]) -> None:
        """Append the event to the ledger's audit chain."""
        from hrss_hub.config import load_config
        from hrss_hub.ledger import Ledger

        subject, details = self.details(context)
        ledger = Ledger.open(load_config(self.config_path).ledger_url)
        try:
            # the task runner and the scheduler may both report one retry of a task whose
            # worker died: one event per (task, try) — the first, or the one with an error
            seen = ledger.audit_events(self.action, subject)
            same = [d for d in seen
                    if (d.get("airflow_run_id"), d.get("try_number"))
                    == (details["airflow_run_id"], details["try_number"])]
            if not same:
                ledger.append_audit("airflow", self.action, subject, details)
        finally:
            ledger.close()


def _hub_run_id(ti: Any) -> str | None:
    # the hub run id travels as start_run's XCom; a failure of start_run itself has none
    if ti is None or getattr(ti, "task_id", None) == "start_run":
        return None
    try:
        link = ti.xcom_pull(task_ids="start_run")
    except Exception:  # noqa: BLE001 - best effort: the event is recorded without the id
        return None
    return str(link["run_id"]) if isinstance(link, Mapping) and "run_id" in link else None

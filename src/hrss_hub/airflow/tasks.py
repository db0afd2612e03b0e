"""The bodies of the Airflow tasks, as plain functions (no Airflow import here).

Each takes the path of ``hub.yaml`` plus small ids and returns a small JSON-able dict that
Airflow keeps as the task's XCom: run ids, counts, file paths — never rows. Everything
heavy (pyarrow, SQLAlchemy, the connectors, the ledger) is imported inside the function,
so importing this module while parsing DAG files costs nothing.

Idempotency: a stream's watermark and processed-file hashes are committed to the ledger
only after its rows are published (:func:`hrss_hub.pipeline.run_stream`). A retried task,
a cleared DAG run or a backfill of an old data interval therefore reads from the committed
state and publishes each source row once: rerunning gives the same exchange content.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hrss_hub.errors import ConfigError, FatalSourceError, MappingError, SchemaDriftError

#: Errors a retry cannot fix (a wrong YAML, a 401, a schema change that the drift policy
#: refuses): the DAG fails them at once instead of retrying. Everything else — a source
#: that is down, a timeout, a locked ledger — is retried as the connector YAML says.
FAIL_FAST_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, FatalSourceError, SchemaDriftError, MappingError)


def open_run(config_path: str | Path, system: str, *, dag_id: str, airflow_run_id: str,
             data_interval: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    """Open a hub run for one Airflow DAG run; link the two in the audit chain."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger
    from hrss_hub.pipeline import start_run

    cfg = load_config(config_path)
    run_id = start_run(cfg, trigger="airflow")
    link = {"run_id": run_id, "system": system, "dag_id": dag_id,
            "airflow_run_id": airflow_run_id, "data_interval": list(data_interval)}
    ledger = Ledger.open(cfg.ledger_url)
    try:
        # the ledger's runs table has no Airflow columns; the audit chain is where an
        # auditor follows an Airflow run to the hub run (and back)
        ledger.append_audit("airflow", "airflow.run_started", f"{dag_id}/{airflow_run_id}", link)
    finally:
        ledger.close()
    return link


def sync_stream(config_path: str | Path, system: str, stream: str, run_id: str
                ) -> dict[str, Any]:
    """Extract → map → validate → stage one stream; the stream summary as a dict.

    Raises the pipeline's ``HubError`` on failure, so that Airflow retries the task.
    """
    from hrss_hub.config import load_config
    from hrss_hub.pipeline import run_one_stream

    summary = run_one_stream(load_config(config_path), system, stream, run_id)
    return asdict(summary)


def close_run(config_path: str | Path, system: str, run_id: str,
              expected: list[tuple[str, str | None]], results: list[dict[str, Any] | None]
              ) -> dict[str, Any]:
    """Record the run's summary in the ledger and publish what was staged.

    ``expected`` lists ``(stream, entity)`` of every stream of the system; a stream without
    a result is one whose task failed (after its retries) or never ran: it is recorded as
    failed, so the ledger never shows a run as succeeded while a stream is missing.
    """
    from hrss_hub.config import load_config
    from hrss_hub.pipeline import StreamSummary, finish_run

    got: dict[str, StreamSummary] = {}
    for item in results:
        if item:
            got[str(item["stream"])] = StreamSummary(**item)
    streams: list[StreamSummary] = []
    for name, entity in expected:
        summary = got.get(name)
        if summary is None:
            summary = StreamSummary(
                system, name, entity, status="failed",
                error=f"Airflow task sync_stream[{name}] failed after its retries or did not "
                      "run; see its task log and the ledger audit (airflow.task_failed)")
        streams.append(summary)
    result = finish_run(load_config(config_path), run_id, streams)
    published: dict[str, int] = {}
    for s in streams:
        if s.entity and s.status == "succeeded":
            published[s.entity] = published.get(s.entity, 0) + s.published
    return {
        "run_id": run_id,
        "system": system,
        "status": result.status,
        "published": published,
        "quarantined": sum(s.quarantined for s in streams),
        "failed_streams": sorted(s.stream for s in streams if s.status == "failed"),
    }


def summary_from_dict(data: dict[str, Any]) -> Any:
    """A :class:`hrss_hub.pipeline.RunSummary` rebuilt from its ``to_dict()`` form."""
    from hrss_hub.pipeline import RunSummary, StreamSummary, SystemSummary

    systems = [SystemSummary(s["system"], s.get("status", "succeeded"), s.get("error"),
                             [StreamSummary(**x) for x in s.get("streams", [])])
               for s in data.get("systems", [])]
    return RunSummary(data["run_id"], data["status"], data["started_at"],
                      data["duration_seconds"], systems)


def publish_runs(config_path: str | Path, run_ids: list[str]) -> dict[str, Any]:
    """Cut dataset versions and deliver them for the given hub runs.

    Calls ``hrss_hub.exchange.versions.publish_pending(cfg, ledger, summary)`` once per run
    when the exchange package provides it (it is idempotent: what was already published is
    not published again); otherwise reports ``unavailable``.
    """
    publish = _optional("hrss_hub.exchange.versions", "publish_pending")
    if publish is None:
        return {"status": "unavailable", "runs": run_ids}
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    done: list[str] = []
    versions: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    ledger = Ledger.open(cfg.ledger_url)
    try:
        for run_id in run_ids:
            info = ledger.get_run(run_id)
            if info is None or not info.summary:
                continue
            report = publish(cfg, ledger, summary_from_dict(info.summary))
            if hasattr(report, "to_dict"):  # what changed: the publish DAG's asset events
                got = report.to_dict()
                versions.extend(got.get("versions", []))
                deliveries.extend(got.get("deliveries", []))
            done.append(run_id)
    finally:
        ledger.close()
    return {"status": "published", "runs": done, "versions": versions,
            "deliveries": deliveries}


def quality_report(config_path: str | Path, run_id: str) -> dict[str, Any]:
    """Write the run's quality report when ``hrss_hub.quality.report`` provides one."""
    write = _optional("hrss_hub.quality.report", "write_report")
    if write is None:
        return {"status": "unavailable", "run_id": run_id}
    from hrss_hub.config import load_config

    path = write(load_config(config_path), run_id)
    return {"status": "written", "run_id": run_id, "report": str(path) if path else None}


def _optional(module: str, name: str) -> Any:
    # the quality and exchange packages land independently of the DAGs: a missing module
    # or function means "not available yet", anything else is a real error
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:
        return None
    return getattr(importlib.import_module(module), name, None)

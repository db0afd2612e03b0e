"""The bodies of the Airflow tasks, as plain functions (no Airflow import here).

Each takes the path of ``hub.yaml`` plus small ids and returns a small JSON-able dict that
Airflow keeps as the task's XCom: run ids, counts, file paths — never rows. Everything
heavy (pyarrow, SQLAlchemy, the connectors, the ledger) is imported inside the function,
so importing this module while parsing DAG files costs nothing.

One publisher: a system's tasks only *stage* (``sync_stream``) and record the run
(``close_run``); the ``hrss_publish`` DAG alone cuts dataset versions and delivers
(:func:`publish_runs`), under the ledger's publish lock. The report is written once, by
the ``quality_report`` task (:func:`quality_report`).

Idempotency: a stream's watermark, processed-file hashes and counts are committed to the
ledger in one transaction after its rows are staged (:func:`hrss_hub.pipeline.run_stream`).
A retried task, a cleared DAG run or a backfill of an old data interval therefore reads
from the committed state and stages each source row once; a retried task whose stream is
already committed reports the committed counts.

Errors: a :class:`~hrss_hub.errors.HubError` says whether a retry may help
(:func:`hrss_hub.errors.is_retriable`); the DAG fails non-retriable ones at once.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hrss_hub.arrow_memory import return_freed_pages

if TYPE_CHECKING:
    from hrss_hub.run.summary import RunSummary

# a task process imports this module (parsing its DAG file) before any task body loads
# pyarrow: the pool is chosen by environment variables, so this imports nothing heavy
return_freed_pages()


def open_run(config_path: str | Path, system: str, *, dag_id: str, airflow_run_id: str,
             data_interval: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    """Open a hub run for one Airflow DAG run, holding the system's run lock (its stream
    tasks share it by the run id); link the two runs in the audit chain.

    The link is recorded with the run in one transaction, so a retry of this task after
    its worker was killed resumes the run the killed attempt opened (same hub run, lock
    renewed) instead of finding the system locked by it.
    """
    from hrss_hub.config import load_config
    from hrss_hub.ledger import AuditNote
    from hrss_hub.pipeline import start_run

    cfg = load_config(config_path)
    link: dict[str, Any] = {"system": system, "dag_id": dag_id,
                            "airflow_run_id": airflow_run_id,
                            "data_interval": list(data_interval)}
    # the ledger's runs table has no Airflow columns; the audit chain is where an
    # auditor follows an Airflow run to the hub run (and back)
    note = AuditNote("airflow", "airflow.run_started", f"{dag_id}/{airflow_run_id}", link)
    run_id = start_run(cfg, trigger="airflow", systems=[system], audit=note)
    return {"run_id": run_id, **link}


def sync_stream(config_path: str | Path, system: str, stream: str, run_id: str
                ) -> dict[str, Any]:
    """Extract → map → validate → stage one stream; the stream summary as a dict.

    Raises the pipeline's ``HubError`` (with step, system, stream and run id) on failure;
    the DAG retries it only when it is retriable.
    """
    from hrss_hub.config import load_config
    from hrss_hub.pipeline import run_one_stream

    summary = run_one_stream(load_config(config_path), system, stream, run_id,
                             progress=task_log_progress())
    return asdict(summary)


#: the logger of the progress lines in Airflow task logs
PROGRESS_LOGGER = "hrss_hub.progress"


def task_log_progress(interval: float | None = None) -> Any:
    """The stream's progress as log lines (the task log): the terminal's plain lines —
    start and estimate, rows / total (percent), rows/s and ETA at most every ``interval``
    seconds (default :data:`hrss_hub.run.progress.DEFAULT_INTERVAL`), the final counts."""
    import logging

    from hrss_hub.run.progress import DEFAULT_INTERVAL, ProgressLines

    return ProgressLines(logging.getLogger(PROGRESS_LOGGER).info,
                         interval=DEFAULT_INTERVAL if interval is None else interval)


def close_run(config_path: str | Path, system: str, run_id: str,
              expected: list[tuple[str, str | None]], results: list[dict[str, Any] | None]
              ) -> dict[str, Any]:
    """Record the run's summary in the ledger and release its lock (publishing and the
    report are the ``hrss_publish`` DAG's and the ``quality_report`` task's).

    ``expected`` lists ``(stream, entity)`` of every stream of the system; a stream without
    a result is one whose task failed (after its retries) or never ran: it is recorded as
    failed, so the ledger never shows a run as succeeded while a stream is missing.
    """
    from hrss_hub.config import load_config
    from hrss_hub.pipeline import finish_run
    from hrss_hub.run.summary import StreamSummary

    got: dict[str, StreamSummary] = {}
    for item in results:
        if item:
            got[str(item["stream"])] = StreamSummary.from_dict(item)
    streams: list[StreamSummary] = []
    for name, entity in expected:
        summary = got.get(name)
        if summary is None:
            summary = StreamSummary(
                system, name, entity, status="failed",
                error=f"Airflow task sync_stream[{name}] failed after its retries or did not "
                      "run; see its task log and the ledger audit (airflow.task_failed)")
        streams.append(summary)
    result = finish_run(load_config(config_path), run_id, streams, publish=False,
                        write_report=False)
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


def summary_from_dict(data: dict[str, Any]) -> RunSummary:
    """A :class:`hrss_hub.run.summary.RunSummary` rebuilt from its ``to_dict()`` form."""
    from hrss_hub.run.summary import RunSummary

    return RunSummary.from_dict(data)


def publish_runs(config_path: str | Path, run_ids: list[str]) -> dict[str, Any]:
    """Cut dataset versions from everything staged and deliver them — the one publisher.

    Publishes what is pending, whichever runs staged it (``run_ids``, from the triggering
    asset events, are recorded for the audit trail): each version's quality block comes
    from the staged files of the runs it absorbed. Holds the ledger's publish lock in a
    run of its own; a second publisher fails with a retriable ``RunLockedError``.
    """
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger
    from hrss_hub.master.hooks import publish_run

    cfg = load_config(config_path)
    ledger = Ledger.open(cfg.ledger_url)
    try:
        # with the person master before, linkage and the supervision checks after
        report = publish_run(cfg, ledger, None, trigger="airflow")
    finally:
        ledger.close()
    done = report.to_dict()
    # what changed: the publish DAG's asset events (published entities, outboxes) say it
    return {"status": "published", "runs": sorted(run_ids),
            "versions": [{"dataset": v["dataset"], "version": v["version"], "rows": v["rows"]}
                         for v in done.get("versions", [])],
            "deliveries": done.get("deliveries", [])}


def quality_report(config_path: str | Path, run_id: str) -> dict[str, Any]:
    """Write the run's quality report (the only place an Airflow run writes it)."""
    from hrss_hub.config import load_config
    from hrss_hub.quality.report import write_report

    path = write_report(load_config(config_path), run_id)
    return {"status": "written", "run_id": run_id, "report": str(path) if path else None}

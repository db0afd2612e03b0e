"""The run's publish step with the person master and the supervision checks around it.

``publish_run`` is what a run calls once its streams are staged: it links the staged
person records into the master (:mod:`.build`), publishes every staged entity with the
master rows (:func:`hrss_hub.exchange.versions.publish_pending`), proposes record-linkage
pairs to the steward queue (:mod:`.linkage`: skipped when its inputs are unchanged since
the last pass, else only pairs with a new or changed record, with the model kept in the
workspace's state), runs the supervision checks over the newly
published tables and publishes the findings. Each part is idempotent, so a rerun after a
crash repeats none of their effects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hrss_hub.config import HubConfig
from hrss_hub.exchange.versions import PublishReport, publish_pending


@dataclass
class RunPublishReport:
    """The publish step's report plus what the master and the checks did."""

    publishing: PublishReport
    master: dict[str, Any] = field(default_factory=dict)
    linkage: dict[str, Any] = field(default_factory=dict)
    supervision: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the run summary's ``publishing``)."""
        return {**self.publishing.to_dict(), "master": self.master, "linkage": self.linkage,
                "supervision": self.supervision}


@dataclass(frozen=True)
class _RunRef:
    """The run the steps belong to (what the publish step reads of a run summary)."""

    run_id: str


def publish_run(cfg: HubConfig, ledger: Any, summary: Any = None, *,
                trigger: str = "cli") -> RunPublishReport:
    """Master build, publish, linkage candidates, supervision — for one run.

    Without a ``summary`` (Airflow's publish DAG, ``hrss-hub publish pending``) the steps
    get a run of their own (``trigger``) holding the publish lock, like the publish step.
    """
    from hrss_hub.ledger.locks import PUBLISH

    if summary is not None:
        return _steps(cfg, ledger, summary)
    run_id = ledger.start_run(cfg.hub_id, trigger,
                              str(cfg.source_file) if cfg.source_file else None,
                              locks=[PUBLISH])
    try:
        report = _steps(cfg, ledger, _RunRef(run_id))
    except BaseException:
        ledger.finish_run(run_id, "failed", {}, "publish failed")
        ledger.release_locks(run_id)
        raise
    ledger.finish_run(run_id, "succeeded", report.to_dict())
    ledger.release_locks(run_id)
    return report


def _steps(cfg: HubConfig, ledger: Any, summary: Any) -> RunPublishReport:
    from hrss_hub.master.build import build_master
    from hrss_hub.master.linkage import propose_pairs
    from hrss_hub.supervision.run import supervise

    run_id = str(summary.run_id)
    with _in_duckdb(cfg, "the person master build"):
        master = build_master(cfg, ledger, run_id=run_id)
    report = RunPublishReport(publish_pending(cfg, ledger, summary))
    report.master = master.to_dict()
    with _in_duckdb(cfg, "record linkage"):
        report.linkage = propose_pairs(cfg, ledger).to_dict()
    with _in_duckdb(cfg, "the supervision checks"):
        checked = supervise(cfg, ledger, run_id=run_id, publish=True)
    report.supervision = checked.to_dict()
    return report


@contextmanager
def _in_duckdb(cfg: HubConfig, step: str) -> Iterator[None]:
    """A DuckDB error of ``step`` as a :class:`~hrss_hub.errors.QueryError`, so the run
    is recorded as failed with the reason (it used to escape as a traceback and leave
    the run ``running`` in the ledger: seen at 10M rows, out of memory in the linkage)."""
    import duckdb

    from hrss_hub.supervision.duck import query_failure

    try:
        yield
    except duckdb.Error as exc:
        raise query_failure(cfg, step, exc) from exc

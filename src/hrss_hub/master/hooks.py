"""The run's publish step with the person master and the supervision checks around it.

``publish_run`` is what a run calls once its streams are staged: it links the staged
person records into the master (:mod:`.build`), publishes every staged entity with the
master rows (:func:`hrss_hub.exchange.versions.publish_pending`), proposes record-linkage
pairs to the steward queue (:mod:`.linkage`), runs the supervision checks over the newly
published tables and publishes the findings. Each part is idempotent, so a rerun after a
crash repeats none of their effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hrss_hub.config import HubConfig
from hrss_hub.exchange.versions import PublishReport, publish_pending
from hrss_hub.ledger.api import new_run_id


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


def publish_run(cfg: HubConfig, ledger: Any, summary: Any = None) -> RunPublishReport:
    """Master build, publish, linkage candidates, supervision — for one run."""
    from hrss_hub.master.build import build_master
    from hrss_hub.master.linkage import propose_pairs
    from hrss_hub.supervision.run import supervise

    run_id = getattr(summary, "run_id", None)
    # without a run (``hrss-hub publish pending``) the staged rows get a fresh id and the
    # checks open a run of their own
    master = build_master(cfg, ledger, run_id=run_id or new_run_id())
    report = RunPublishReport(publish_pending(cfg, ledger, summary))
    report.master = master.to_dict()
    report.linkage = propose_pairs(cfg, ledger).to_dict()
    checked = supervise(cfg, ledger, run_id=run_id, publish=True)
    report.supervision = checked.to_dict()
    return report

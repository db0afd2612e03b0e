"""Validation results in the ledger: one row per rule and per expectation of each stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hrss_hub.ledger.records import QualityResult
from hrss_hub.quality.validate import load_validations


def quality_results(summary: Any, reports_dir: Path | None) -> list[QualityResult]:
    """Rule-level rows from the run summary (``RunSummary`` or its dict; the gate's counts,
    severity ``gate``) plus expectation-level rows from the run's validation files (severity
    from the suites)."""
    data = summary if isinstance(summary, dict) else summary.to_dict()
    out: list[QualityResult] = []
    for system in data["systems"]:
        for st in system["streams"]:
            if st.get("entity") is None:
                continue
            evaluated = max(int(st["read"]) - int(st["filtered"]), 0)
            for rule, n in (st.get("quarantined_by_rule") or {}).items():
                out.append(QualityResult(st["system"], st["stream"], st["entity"], rule, "gate",
                                         evaluated, int(n), {"kind": "rule"}))
    if reports_dir is not None:
        for v in load_validations(reports_dir, data["run_id"]):
            for e in v["expectations"]:
                out.append(QualityResult(
                    v["system"], v["stream"], v["entity"], e["rule"], e["severity"],
                    int(e["evaluated"]), int(e["unexpected"]),
                    {"kind": "expectation", "type": e["type"], "field": e["field"],
                     "suite": e["suite"], "gx_unexpected": e["gx_unexpected"],
                     "source": e["source"]}))
    return out


def record(ledger: Any, summary: Any, reports_dir: Path | None = None) -> int:
    """Store the run's quality results in the ledger; returns how many rows."""
    run_id = summary["run_id"] if isinstance(summary, dict) else summary.run_id
    return int(ledger.record_quality(run_id, quality_results(summary, reports_dir)))

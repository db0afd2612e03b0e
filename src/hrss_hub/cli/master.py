"""``hrss-hub master build`` and ``hrss-hub master review list|accept|reject``: the person
master and the steward queue of record-linkage pairs (who and why in the ledger and the
audit chain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.supervision import apply_decisions, decision_options

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                       help="hub.yaml of the workspace (default: ./hub.yaml if present).")


@click.group(cls=HubGroup)
def master() -> None:
    """The person master index: rebuild it, review record-linkage pairs."""


@master.command("build")
@_CONFIG
@click.option("--full", is_flag=True, help="Recompute every person (after a settings change).")
@click.option("--retrain", is_flag=True,
              help="Train the record-linkage model again and score every candidate pair.")
@click.option("--json", "as_json", is_flag=True, help="The build and linkage report as JSON.")
def build(config_path: Path | None, full: bool, retrain: bool, as_json: bool) -> None:
    """Link staged person records, publish the master, queue linkage pairs."""
    from hrss_hub.config import load_config
    from hrss_hub.exchange.versions import publish_pending
    from hrss_hub.ledger import Ledger
    from hrss_hub.master.build import build_master
    from hrss_hub.master.linkage import propose_pairs

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        from hrss_hub.ledger.locks import PUBLISH

        run_id = ledger.start_run(cfg.hub_id, "cli",
                                  str(cfg.source_file) if cfg.source_file else None,
                                  locks=[PUBLISH])
        try:
            report = build_master(cfg, ledger, run_id=run_id, full=full)
            publish_pending(cfg, ledger, _Run(run_id))
            linkage = propose_pairs(cfg, ledger, retrain=retrain)
        except BaseException:
            ledger.finish_run(run_id, "failed", {}, "master build failed")
            ledger.release_locks(run_id)
            raise
        ledger.finish_run(run_id, "succeeded", {"master": report.to_dict(),
                                                "linkage": linkage.to_dict()})
        ledger.release_locks(run_id)
    if as_json:
        click.echo(json.dumps({"master": report.to_dict(), "linkage": linkage.to_dict()},
                              indent=1))
        return
    click.echo(f"{report.persons} person(s) recomputed, {report.staged_persons} changed, "
               f"{report.conflicts} with conflicts; {linkage.queued} pair(s) queued for review")


class _Run:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id


@master.group(cls=HubGroup)
def review() -> None:
    """The steward queue of probable 一人多号 pairs."""


@review.command("list")
@_CONFIG
@click.option("--status", default="pending",
              type=click.Choice(["pending", "accepted", "rejected", "all"]))
@click.option("--json", "as_json", is_flag=True, help="Each pair with its explanation.")
def list_cmd(config_path: Path | None, status: str, as_json: bool) -> None:
    """Pairs with probability and per-comparison match weights (records, never IDs)."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger
    from hrss_hub.master.review import ReviewStore

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        items = ReviewStore(ledger).all(None if status == "all" else status)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "left": r.left, "right": r.right,
                                "probability": r.probability, "status": r.status,
                                "explanation": r.explanation, "decided_by": r.decided_by,
                                "reason": r.reason} for r in items],
                              ensure_ascii=False, indent=1))
        return
    for r in items:
        weights = ", ".join(f"{k} {v:+.1f}" for k, v in r.explanation.get("weights", {}).items()
                            if v is not None)
        click.echo(f"{r.id} {r.status:8} p={r.probability:.4f} {r.left} ~ {r.right} "
                   f"[{weights}]")
    click.echo(f"{len(items)} pair(s)")


def _decide(accept: bool, ids: tuple[str, ...], actor: str, reason: str,
            config_path: Path | None, as_json: bool) -> None:
    from hrss_hub.master.review import ReviewStore

    def one(ledger: Any, rid: str) -> dict[str, Any]:
        info = ReviewStore(ledger).decide(rid, accept, actor=actor, reason=reason)
        return {"id": info.id, "status": info.status, "by": actor, "reason": reason}

    if apply_decisions(config_path, ids, as_json, one):
        return
    verb = "accepted" if accept else "rejected"
    click.echo(f"{verb} {len(ids)} pair(s) by {actor}; "
               "`hrss-hub master build --full` applies accepted merges")


@review.command("accept")
@decision_options
def accept(ids: tuple[str, ...], actor: str, reason: str, config_path: Path | None,
           as_json: bool) -> None:
    """Accept pairs: the two records are one person."""
    _decide(True, ids, actor, reason, config_path, as_json)


@review.command("reject")
@decision_options
def reject(ids: tuple[str, ...], actor: str, reason: str, config_path: Path | None,
           as_json: bool) -> None:
    """Reject pairs: two different people."""
    _decide(False, ids, actor, reason, config_path, as_json)

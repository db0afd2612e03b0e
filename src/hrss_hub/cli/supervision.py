"""``hrss-hub supervise`` and ``hrss-hub findings list|confirm|dismiss``: run the
supervision checks, review their findings (who and why in the ledger and audit chain)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hrss_hub.cli import HubGroup

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                       help="hub.yaml of the workspace (default: ./hub.yaml if present).")


@click.command()
@_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def supervise(config_path: Path | None, as_json: bool) -> None:
    """Run every supervision check over the published exchange and publish the findings.

    A checks folder that is missing or holds no check is an error naming it (exit 2)."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger
    from hrss_hub.supervision.run import supervise as run

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        report = run(cfg, ledger, actor="cli", require_checks=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        return
    for check in report.ran:
        click.echo(f"{check}: {report.found.get(check, 0)} finding(s)")
    for check, missing in sorted(report.skipped.items()):
        click.echo(f"{check}: skipped (not published yet: {', '.join(missing)})")
    c = report.changes.counts()
    click.echo(f"new {c['new']}, seen again {c['seen']}, reopened {c['reopened']}, "
               f"resolved {c['resolved']}")


@click.group(cls=HubGroup)
def findings() -> None:
    """List, confirm or dismiss supervision findings."""


def masked_findings(cfg: Any, ledger: Any, status: str | None = None,
                    check: str | None = None) -> list[dict[str, Any]]:
    """Each finding with its check and evidence, identifiers masked (what ``list`` shows)."""
    from hrss_hub.exchange.versions import exchange_store
    from hrss_hub.master.derived import published
    from hrss_hub.quality.report import mask_id
    from hrss_hub.standard.model import load_standard
    from hrss_hub.supervision.lifecycle import FindingStore
    from hrss_hub.supervision.spec import load_checks

    standard = load_standard(cfg.standard_dir)
    titles = {c.id: c for c in load_checks(cfg.supervision_dir, frozenset(standard.entities))}
    rows = published(exchange_store(cfg), standard.entity("finding"),
                     ["finding_id", "citizen_id", "evidence"]).to_pylist()
    evidence = {str(r["finding_id"]): r for r in rows}
    out = []
    for info in FindingStore(ledger).all(status=status, check=check):
        row = evidence.get(info.id)
        chk = titles.get(info.check_id)
        out.append({
            "id": info.id, "check": info.check_id,
            "title_zh": chk.title_zh if chk else None, "title_en": chk.title_en if chk else None,
            "severity": info.severity, "status": info.status, "divisions": list(info.divisions),
            "first_seen": info.first_seen.isoformat(), "last_seen": info.last_seen.isoformat(),
            "person": mask_id(str(row["citizen_id"])) if row else None,
            "evidence": json.loads(mask_id(str(row["evidence"]))) if row else []})
    return out


@findings.command("list")
@_CONFIG
@click.option("--status", default=None,
              type=click.Choice(["open", "confirmed", "dismissed", "resolved"]))
@click.option("--check", default=None, help="Only this check's findings.")
@click.option("--json", "as_json", is_flag=True, help="Each finding with check and evidence.")
def list_cmd(config_path: Path | None, status: str | None, check: str | None,
             as_json: bool) -> None:
    """Findings with check, status, divisions and first/last seen (identifiers masked)."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        items = masked_findings(cfg, ledger, status, check)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=1))
        return
    for f in items:
        click.echo(f"{f['id']} {f['status']:9} {f['severity']:6} {f['check']} "
                   f"{f['person'] or '-'} {','.join(f['divisions'])} "
                   f"({len(f['evidence'])} evidence row(s))")
    click.echo(f"{len(items)} finding(s)")


def apply_decisions(config_path: Path | None, ids: tuple[str, ...], as_json: bool,
                    decide: Callable[[Any, str], dict[str, Any]]) -> bool:
    """A steward's decision on each of ``ids`` (``decide(ledger, id)`` → what was decided);
    under ``--json`` the decisions are printed and True returned (nothing more to say)."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        done = [decide(ledger, key) for key in ids]
    if as_json:
        click.echo(json.dumps(done, ensure_ascii=False, indent=1))
    return as_json


def _decide(action: str, config_path: Path | None, ids: tuple[str, ...], actor: str,
            reason: str, as_json: bool) -> None:
    from hrss_hub.supervision.lifecycle import FindingStore

    def one(ledger: Any, fid: str) -> dict[str, Any]:
        info = FindingStore(ledger).set_status(fid, action, actor=actor, reason=reason)
        return {"id": info.id, "check": info.check_id, "status": info.status, "by": actor,
                "reason": reason}

    if not apply_decisions(config_path, ids, as_json, one):
        click.echo(f"{action}ed {len(ids)} finding(s) by {actor}")


F = TypeVar("F", bound=Callable[..., None])


def decision_options(fn: F) -> F:
    """The arguments of a steward's decision: ids, ``--by``, ``--reason``, ``--config``,
    ``--json``."""
    for option in reversed((click.argument("ids", nargs=-1, required=True),
                            click.option("--by", "actor", required=True,
                                         help="Who decides (recorded)."),
                            click.option("--reason", required=True, help="Why (recorded)."),
                            _CONFIG,
                            click.option("--json", "as_json", is_flag=True,
                                         help="The decisions as JSON."))):
        fn = option(fn)
    return fn


@findings.command("confirm")
@decision_options
def confirm(ids: tuple[str, ...], actor: str, reason: str, config_path: Path | None,
            as_json: bool) -> None:
    """Confirm findings as irregular (e.g. after checking the death certificate)."""
    _decide("confirm", config_path, ids, actor, reason, as_json)


@findings.command("dismiss")
@decision_options
def dismiss(ids: tuple[str, ...], actor: str, reason: str, config_path: Path | None,
            as_json: bool) -> None:
    """Dismiss findings as not irregular (a false positive, with the reason)."""
    _decide("dismiss", config_path, ids, actor, reason, as_json)

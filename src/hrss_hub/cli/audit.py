"""``hrss-hub audit``: verify and show the hash-chained audit log of the ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hrss_hub.config import load_config

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


@click.group()
def audit() -> None:
    """The audit log: every publish, delivery, refusal and read through the hub."""


@audit.command("verify")
@_CONFIG
@click.option("--expected-head", default=None,
              help="A head hash kept outside the database; it must still be in the chain.")
def verify_(config_path: Path | None, expected_head: str | None) -> None:
    """Detect any edit, deletion, insertion or reordering of audit events (exit 1)."""
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url, migrate=False) as led:
        problems = led.verify_audit(expected_head)
    for p in problems:
        click.echo(f"FAIL {p}")
    if problems:
        sys.exit(1)
    click.echo("audit chain intact")


@audit.command("log")
@_CONFIG
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def log(config_path: Path | None, limit: int, as_json: bool) -> None:
    """Show the newest audit events."""
    import sqlalchemy as sa

    from hrss_hub.ledger import Ledger
    from hrss_hub.ledger.models import AuditEvent

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url, migrate=False) as led, led.engine.connect() as conn:
        rows = list(conn.execute(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
                                 .limit(limit)))
    events = [{"seq": r.seq, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
               "subject": r.subject, "details": r.details, "hash": r.hash} for r in rows]
    if as_json:
        click.echo(json.dumps(events, ensure_ascii=False, indent=2, default=str))
        return
    for ev in reversed(events):
        click.echo(f"{ev['seq']:>6} {ev['at'][:19]} {ev['actor']:<20} {ev['action']:<17} "
                   f"{ev['subject']}")

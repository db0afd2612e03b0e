"""``hrss-hub audit``: verify and show the hash-chained audit log of the ledger.

Both commands only read: run outside a workspace, or before the workspace has a ledger,
they refuse with a clear error and create nothing (an empty chain verified in a ledger made
on the spot would say "intact" about nothing).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option
from hrss_hub.config import load_config

if TYPE_CHECKING:
    from hrss_hub.ledger import Ledger

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


def open_existing_ledger(url: str) -> Ledger:
    """The ledger at ``url`` if it exists and is migrated; never creates one."""
    from hrss_hub.errors import LedgerError
    from hrss_hub.ledger import Ledger, db

    parsed = db.parse_url(url)
    if db.is_sqlite(parsed) and not db.is_memory_sqlite(parsed):
        path = Path(str(parsed.database)).expanduser()
        if not path.is_file():
            raise LedgerError("no ledger yet: this workspace has not run", {"file": str(path)},
                              "the ledger is created by the first `hrss-hub run` (or `hrss-hub "
                              "ledger upgrade`); check that --config or HRSS_HUB_LEDGER_URL "
                              "point at the hub's ledger")
    return Ledger.open(url, migrate=False)


@click.group(cls=HubGroup)
def audit() -> None:
    """The audit log: every publish, delivery, refusal and read through the hub."""


@audit.command("verify")
@_CONFIG
@click.option("--expected-head", default=None,
              help="A head hash kept outside the database; it must still be in the chain.")
@json_option
def verify_(config_path: Path | None, expected_head: str | None, as_json: bool) -> None:
    """Detect any edit, deletion, insertion or reordering of audit events (exit 1)."""
    cfg = load_config(config_path)
    with open_existing_ledger(cfg.ledger_url) as led:
        problems = led.verify_audit(expected_head)
    if as_json:
        emit_json({"intact": not problems, "problems": [str(p) for p in problems]})
        sys.exit(1 if problems else 0)
    for p in problems:
        click.echo(f"FAIL {p}")
    if problems:
        sys.exit(1)
    click.echo("audit chain intact")


@audit.command("log")
@_CONFIG
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@json_option
def log(config_path: Path | None, limit: int, as_json: bool) -> None:
    """Show the newest audit events."""
    import sqlalchemy as sa

    from hrss_hub.ledger.models import AuditEvent

    cfg = load_config(config_path)
    with open_existing_ledger(cfg.ledger_url) as led, led.engine.connect() as conn:
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

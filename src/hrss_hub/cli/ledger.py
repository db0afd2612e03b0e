"""``hrss-hub ledger``: create/upgrade the ledger database and list recent runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option
from hrss_hub.config import load_config

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


@click.group(cls=HubGroup)
def ledger() -> None:
    """Create or upgrade the ledger database, and look at what it recorded."""


@ledger.command()
@_CONFIG
@json_option
def upgrade(config_path: Path | None, as_json: bool) -> None:
    """Create the ledger database or upgrade it to the newest schema."""
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url, migrate=True) as led:
        url, revision = led.safe_url, led.current_revision()
    if as_json:
        emit_json({"ledger": url, "revision": revision})
        return
    click.echo(f"ledger {url} at revision {revision}")


@ledger.command()
@_CONFIG
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1),
              help="How many runs to show, newest first.")
@json_option
def runs(config_path: Path | None, limit: int, as_json: bool) -> None:
    """List the most recent runs."""
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url, migrate=False) as led:
        recent = led.recent_runs(limit)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in recent], ensure_ascii=False, indent=2))
        return
    if not recent:
        click.echo("no runs recorded yet")
        return
    click.echo(f"{'run':<24} {'status':<10} {'trigger':<8} {'started (UTC)':<20} finished")
    for r in recent:
        finished = f"{r.finished_at:%Y-%m-%d %H:%M:%S}" if r.finished_at else "-"
        click.echo(f"{r.id:<24} {r.status:<10} {r.trigger:<8} "
                   f"{r.started_at:%Y-%m-%d %H:%M:%S}  {finished}")
        if r.error:
            click.echo(f"  error: {r.error.splitlines()[0]}")

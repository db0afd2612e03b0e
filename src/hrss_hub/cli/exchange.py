"""``hrss-hub exchange optimize|vacuum|history``: maintenance of the Delta tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hrss_hub.cli import HubGroup
from hrss_hub.config import load_config

if TYPE_CHECKING:
    from hrss_hub.exchange.maintenance import MaintenanceResult
    from hrss_hub.exchange.tables import Table

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")
_TABLES = click.option("--table", "tables", multiple=True,
                       help="Only this table (entity name). Repeatable; default: all.")
_OUTBOXES = click.option("--outboxes/--no-outboxes", default=True, show_default=True,
                         help="Also the recipients' outbox tables.")


@click.group(cls=HubGroup)
def exchange() -> None:
    """Maintain the exchange's Delta tables (each maintenance version is signed)."""


def _tables(config_path: Path | None, names: tuple[str, ...], outboxes: bool) -> list[Table]:
    from hrss_hub.exchange.verify import find_tables
    from hrss_hub.exchange.versions import exchange_store, outbox_store

    cfg = load_config(config_path)
    found = find_tables(exchange_store(cfg))
    if outboxes:
        found += find_tables(outbox_store(cfg))
    if names:
        found = [t for t in found if t.name in names]
    return found


@exchange.command()
@_CONFIG
@_TABLES
@_OUTBOXES
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def optimize(config_path: Path | None, tables: tuple[str, ...], outboxes: bool,
             as_json: bool) -> None:
    """Compact small data files into ~128 MB ones (no data change)."""
    from hrss_hub.exchange.maintenance import optimize as run
    from hrss_hub.exchange.versions import signer_of

    signer = signer_of(load_config(config_path))
    results = [run(t, signer) for t in _tables(config_path, tables, outboxes)]
    _show(results, as_json)


@exchange.command()
@_CONFIG
@_TABLES
@_OUTBOXES
@click.option("--retention-hours", type=int, default=None,
              help="Grace period (default: retention_hours in hub.yaml, 168).")
@click.option("--keep-versions", type=int, default=None,
              help="Versions kept readable (default: keep_versions in hub.yaml).")
@click.option("--dry-run", is_flag=True, help="Only count the files that would go.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def vacuum(config_path: Path | None, tables: tuple[str, ...], outboxes: bool,
           retention_hours: int | None, keep_versions: int | None, dry_run: bool,
           as_json: bool) -> None:
    """Delete data files no kept version uses and removed longer ago than the grace
    period (see docs/exchange.md: never a version a recipient may still be reading)."""
    from hrss_hub.exchange.maintenance import vacuum as run
    from hrss_hub.exchange.versions import retention_hours as configured
    from hrss_hub.exchange.versions import signer_of

    cfg = load_config(config_path)
    signer = signer_of(cfg)
    hours = retention_hours if retention_hours is not None else configured(cfg)
    keep = keep_versions if keep_versions is not None else cfg.keep_versions
    results = [run(t, signer, retention_hours=hours, keep_versions=keep, dry_run=dry_run)
               for t in _tables(config_path, tables, outboxes)]
    _show(results, as_json)


@exchange.command()
@_CONFIG
@click.argument("table")
@click.option("--recipient", default=None, help="The outbox of this recipient instead.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(config_path: Path | None, table: str, recipient: str | None, limit: int,
            as_json: bool) -> None:
    """The versions of TABLE: Delta operation, time, hub operation, rows, signer."""
    from hrss_hub.errors import ConfigError
    from hrss_hub.exchange.maintenance import history as run
    from hrss_hub.exchange.tables import Table
    from hrss_hub.exchange.versions import exchange_store, outbox_store

    cfg = load_config(config_path)
    store = outbox_store(cfg).sub(recipient) if recipient else exchange_store(cfg)
    t = Table(store, table)
    if not t.exists():
        raise ConfigError("no such Delta table", {"table": t.display()},
                          "list tables with: hrss-hub catalog")
    entries = run(t, limit)
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    for e in entries:
        signed = "signed" if e["signed"] else "UNSIGNED"
        click.echo(f"v{e['version']:<5} {e.get('operation')!s:<14} "
                   f"{e.get('hub_operation', '-')!s:<15} rows={e.get('rows', '-')!s:<9} "
                   f"{signed} {e.get('suite', '')} {e.get('signer', '')}")


def _show(results: list[MaintenanceResult], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return
    for r in results:
        versions = ", ".join(f"v{v}" for v in r.versions) or "no new version"
        extra = " ".join(f"{k}={v}" for k, v in r.details.items() if k != "keep_versions")
        click.echo(f"{r.action:<9} {r.table:<22} {versions}  {extra}")

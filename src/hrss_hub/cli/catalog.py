"""``hrss-hub catalog``: tables, versions, bilingual schemas, rows, quality, recipients,
shares and the pinned publisher keys (keep the JSON for ``hrss-hub verify --catalog``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hrss_hub.config import HubConfig, load_config


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="hub.yaml of the workspace (default: ./hub.yaml).")
@click.option("--root", default=None,
              help="An exchange or outbox folder / s3:// URI instead of the workspace's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--html", "html_out", type=click.Path(path_type=Path), default=None,
              help="Also write a static HTML catalog page to this file (and the code "
                   "lists it uses as CSV/JSON in codelists/ beside it).")
def catalog(config_path: Path | None, root: str | None, as_json: bool,
            html_out: Path | None) -> None:
    """Show what the exchange holds."""
    from hrss_hub.exchange.catalog import build_catalog, write_html
    from hrss_hub.exchange.policy import load_agreements
    from hrss_hub.exchange.storage import Store
    from hrss_hub.exchange.versions import exchange_store
    from hrss_hub.standard.model import load_standard

    cfg = load_config(config_path)
    store = Store.open(root) if root else exchange_store(cfg)
    standard = load_standard(cfg.standard_dir)
    doc = build_catalog(store, load_agreements(cfg.sharing_dir) if not root else [],
                        _shares(cfg) if not root else [], standard)
    if html_out is not None:
        # the page and, beside it, its code lists as CSV/JSON (codelists/)
        write_html(doc, html_out, standard)
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    if not doc["datasets"]:
        click.echo(f"no dataset published in {doc['root']}")
        return
    click.echo(f"{'dataset':<22} {'version':>7} {'rows':>10}  {'created (UTC)':<26} recipients")
    for d in doc["datasets"]:
        recipients = ", ".join(r["recipient"] for r in d["recipients"]) or "-"
        click.echo(f"{d['dataset']:<22} {'v' + str(d['current_version']):>7} {d['rows']:>10}  "
                   f"{d['created_at']:<26} {recipients}")
    for s in doc["shares"]:
        tables = ", ".join(t["table"] for t in s["tables"] if t["shared"]) or "-"
        tokens = s["tokens"]
        click.echo(f"share {s['share']:<20} {s['state']:<8} until {s['valid_to']}  "
                   f"tables: {tables}; tokens: {tokens['active']} active")
    if html_out is not None:
        click.echo(f"HTML catalog: {html_out}")


def _shares(cfg: HubConfig) -> list[dict[str, Any]]:
    """The sharing server's view (recipients, tables, columns, tokens; never a token)."""
    from hrss_hub.ledger import Ledger
    from hrss_hub.share.catalog import share_section

    with Ledger.open(cfg.ledger_url) as ledger:
        return share_section(cfg, ledger)

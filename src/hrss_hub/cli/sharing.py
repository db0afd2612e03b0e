"""``hrss-hub sharing``: check and list sharing agreements (``sharing/*.yaml``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option
from hrss_hub.config import load_config

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


@click.group(cls=HubGroup)
def sharing() -> None:
    """Sharing agreements: who receives which columns of which rows, and why."""


@sharing.command()
@_CONFIG
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="Folder of agreements (default: the workspace's sharing/).")
@json_option
def check(config_path: Path | None, folder: Path | None, as_json: bool) -> None:
    """Validate every agreement against the standard; exit 1 on any problem."""
    from hrss_hub.exchange.policy import check_agreement_files
    from hrss_hub.standard.model import load_standard

    cfg = load_config(config_path)
    folder = folder or cfg.sharing_dir
    from hrss_hub.exchange.fill import filled_fields, unfilled_columns, workspace_mappings

    standard = load_standard(cfg.standard_dir)
    agreements, problems, warnings = check_agreement_files(folder, standard)
    # delivered columns that no connector fills reach the recipient 100% null
    mappings, unreadable = workspace_mappings(cfg)
    warnings = [*warnings, *([unreadable] if unreadable else []),
                *unfilled_columns(agreements, standard, filled_fields(mappings))]
    if as_json:
        emit_json({"folder": str(folder), "agreements": len(agreements),
                   "problems": [str(p) for p in problems],
                   "warnings": [str(w) for w in warnings]})
        sys.exit(1 if problems else 0)
    for w in warnings:
        click.echo(f"warning: {w}")
    for p in problems:
        click.echo(f"error: {p}")
    click.echo(f"{len(agreements)} agreement(s) in {folder}: {len(problems)} problem(s), "
               f"{len(warnings)} warning(s)")
    if problems:
        sys.exit(1)


@sharing.command("list")
@_CONFIG
@json_option
def list_(config_path: Path | None, as_json: bool) -> None:
    """List agreements: recipient, datasets, validity."""
    from hrss_hub.exchange.policy import load_agreements

    cfg = load_config(config_path)
    agreements = load_agreements(cfg.sharing_dir)
    if as_json:
        emit_json([{"recipient": a.recipient_id, "recipient_name": a.recipient_name,
                    "purpose": a.purpose, "valid_from": a.valid_from, "valid_to": a.valid_to,
                    "datasets": sorted(a.datasets)} for a in agreements])
        return
    for a in agreements:
        datasets = ", ".join(sorted(a.datasets))
        click.echo(f"{a.recipient_id:<24} {a.valid_from}..{a.valid_to}  {datasets}  "
                   f"({a.recipient_name}; {a.purpose})")

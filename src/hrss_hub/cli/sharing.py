"""``hrss-hub sharing``: check and list sharing agreements (``sharing/*.yaml``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hrss_hub.config import load_config

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


@click.group()
def sharing() -> None:
    """Sharing agreements: who receives which columns of which rows, and why."""


@sharing.command()
@_CONFIG
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="Folder of agreements (default: the workspace's sharing/).")
def check(config_path: Path | None, folder: Path | None) -> None:
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
def list_(config_path: Path | None) -> None:
    """List agreements: recipient, datasets, validity."""
    from hrss_hub.exchange.policy import load_agreements

    cfg = load_config(config_path)
    for a in load_agreements(cfg.sharing_dir):
        datasets = ", ".join(sorted(a.datasets))
        click.echo(f"{a.recipient_id:<24} {a.valid_from}..{a.valid_to}  {datasets}  "
                   f"({a.recipient_name}; {a.purpose})")

"""``hrss-hub publish``: cut versions from staged rows and deliver; keys; level merges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option
from hrss_hub.config import load_config

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


@click.group(cls=HubGroup)
def publish() -> None:
    """Publish dataset versions and deliver them to recipients."""


@publish.command("pending")
@_CONFIG
@json_option
def pending(config_path: Path | None, as_json: bool) -> None:
    """Publish staged rows (normally done at the end of `hrss-hub run`) and deliver."""
    from hrss_hub.exchange.versions import publish_pending
    from hrss_hub.ledger import Ledger

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as led:
        report = publish_pending(cfg, led, None)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    for v in report.versions:
        click.echo(f"published {v.dataset} v{v.version}: {v.rows} rows")
    for d in report.deliveries:
        click.echo(f"{d.status:<9} {d.recipient}:{d.dataset} rows={d.rows} "
                   f"changed={d.changed_rows}" + (f" ({d.reason})" if d.reason else "")
                   + (f" empty columns: {', '.join(d.empty_columns())}"
                      if d.empty_columns() else ""))


@publish.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--suite", type=click.Choice(["ed25519", "sm2-sm3"]), default="ed25519",
              show_default=True, help="Signature suite: Ed25519, or SM2 with SM3 digests "
                                      "(GB/T 32918, GB/T 32905).")
@json_option
def keygen(path: Path, suite: str, as_json: bool) -> None:
    """Create a signing key (PEM, mode 0600) at PATH; prints the public key."""
    from hrss_hub.exchange.signing import generate_key_file, load_signer, public_pem

    generate_key_file(path, suite)
    pem = public_pem(load_signer(str(path)).public_key)
    if as_json:
        emit_json({"key_file": str(path), "suite": suite, "public_key": pem})
        return
    click.echo(pem, nl=False)


@publish.command("public-key")
@_CONFIG
@json_option
def public_key(config_path: Path | None, as_json: bool) -> None:
    """Print this hub's public key (give it to recipients for `verify --trusted-key`)."""
    from hrss_hub.exchange.signing import public_pem
    from hrss_hub.exchange.versions import signer_of

    cfg = load_config(config_path)
    pem = public_pem(signer_of(cfg).public_key)
    if as_json:
        emit_json({"hub_id": cfg.hub_id, "suite": cfg.signature_suite, "public_key": pem})
        return
    click.echo(pem, nl=False)


@publish.command("merge-upstream")
@_CONFIG
@click.option("--dataset", "datasets", multiple=True, required=True, help="Entity to merge.")
@click.option("--source", "sources", multiple=True, required=True,
              help="NAME=PATH of a lower-level hub's extract root (repeatable).")
@click.option("--trusted-key", "trusted_keys", multiple=True,
              help="Public key (PEM file) of a lower-level hub. Repeatable.")
@json_option
def merge_upstream_(config_path: Path | None, datasets: tuple[str, ...],
                    sources: tuple[str, ...], trusted_keys: tuple[str, ...],
                    as_json: bool) -> None:
    """Merge what lower-level hubs reported up (上报) into this hub's datasets."""
    from hrss_hub.errors import ConfigError
    from hrss_hub.exchange.levels import Upstream, merge_upstream
    from hrss_hub.exchange.signing import load_public_key
    from hrss_hub.exchange.versions import (
        exchange_store,
        publisher_of,
        retention_hours,
        signer_of,
    )
    from hrss_hub.exchange.winner import WinRule
    from hrss_hub.standard.model import load_standard

    cfg = load_config(config_path)
    ups = []
    for s in sources:
        name, sep, path = s.partition("=")
        if not sep:
            raise ConfigError(f"--source must be NAME=PATH, got {s!r}")
        ups.append(Upstream(path, name))
    standard = load_standard(cfg.standard_dir)
    trusted = [load_public_key(k) for k in trusted_keys] or None
    merged: list[dict[str, Any]] = []
    for name in datasets:
        v = merge_upstream(exchange_store(cfg), standard.entity(name), ups,
                           signer=signer_of(cfg), publisher=publisher_of(cfg),
                           standard_version=standard.version, trusted=trusted,
                           rule=WinRule.of(cfg), retention_hours=retention_hours(cfg))
        merged.append({"dataset": name, "status": "unchanged" if v is None else "published",
                       "version": None if v is None else v.version,
                       "rows": None if v is None else v.rows})
        if not as_json:
            click.echo(f"{name}: " + ("unchanged" if v is None
                                      else f"v{v.version}, {v.rows} rows"))
    if as_json:
        emit_json(merged)

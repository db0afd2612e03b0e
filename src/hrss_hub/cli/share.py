"""``hrss-hub share``: the Delta Sharing server and its recipients' tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option
from hrss_hub.config import HubConfig, load_config

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None, help="hub.yaml of the workspace (default: ./hub.yaml).")


@click.group(cls=HubGroup)
def share() -> None:
    """Serve recipients' outboxes over the open Delta Sharing protocol."""


@share.command()
@_CONFIG
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8080).")
@click.option("--endpoint", default=None,
              help="Public URL of the server as profiles name it (behind a proxy).")
@click.option("--tls-cert", type=click.Path(path_type=Path), default=None,
              help="TLS certificate (PEM); serves https with --tls-key.")
@click.option("--tls-key", type=click.Path(path_type=Path), default=None,
              help="TLS private key (PEM).")
@click.option("--url-ttl", "url_ttl_seconds", type=int, default=None,
              help="Seconds a signed file URL stays valid (default 900).")
@json_option
def serve(config_path: Path | None, host: str | None, port: int | None, endpoint: str | None,
          tls_cert: Path | None, tls_key: Path | None, url_ttl_seconds: int | None,
          as_json: bool) -> None:
    """Run the sharing server (until Ctrl-C)."""
    from hrss_hub.share.server import serve as run
    from hrss_hub.share.settings import load_settings

    cfg = load_config(config_path)
    settings = load_settings(cfg).with_overrides(
        host=host, port=port, endpoint=endpoint,
        tls_cert=None if tls_cert is None else tls_cert.resolve(),
        tls_key=None if tls_key is None else tls_key.resolve(),
        url_ttl_seconds=url_ttl_seconds)
    if as_json:  # one line at start-up: a script reads the endpoint and leaves it running
        click.echo(json.dumps({"endpoint": settings.public_endpoint,
                               "sharing_dir": str(cfg.sharing_dir)}, ensure_ascii=False))
    else:
        click.echo(f"serving the shares of {cfg.sharing_dir} at {settings.public_endpoint}",
                   err=True)
    run(cfg, settings)


@share.command("list")
@_CONFIG
@json_option
def list_(config_path: Path | None, as_json: bool) -> None:
    """Shares: recipient, tables, columns, row scope, validity, token status."""
    from hrss_hub.ledger import Ledger
    from hrss_hub.share.catalog import share_section

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        shares = share_section(cfg, ledger)
    if as_json:
        click.echo(json.dumps(shares, ensure_ascii=False, indent=2))
        return
    if not shares:
        click.echo(f"no sharing agreement in {cfg.sharing_dir}")
    for s in shares:
        tokens = s["tokens"]
        click.echo(f"{s['share']:<22} {s['state']:<8} {s['valid_from']}..{s['valid_to']}  "
                   f"tokens: {tokens['active']} active, {tokens['expired']} expired, "
                   f"{tokens['revoked']} revoked")
        for t in s["tables"]:
            shared = "shared" if t["shared"] else "not delivered yet"
            click.echo(f"  {s['share']}.default.{t['table']:<16} {shared}; rows: "
                       f"{', '.join(t['division_prefix'] or ['all'])}; kept: "
                       f"{', '.join(t['kept']) or '-'}; masked: "
                       f"{', '.join(f'{c} ({a})' for c, a in t['masked'].items()) or '-'}")


@share.group(cls=HubGroup)
def token() -> None:
    """Bearer tokens of recipients (stored hashed; the token is only in its profile)."""


@token.command()
@_CONFIG
@click.argument("recipient")
@click.option("--days", type=int, default=None,
              help="Expire after this many days (default: when the agreement ends).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Profile file or folder to write (default: ./RECIPIENT.share).")
@click.option("--endpoint", default=None, help="Server URL the profile names "
              "(default: share.endpoint of hub.yaml, or this host's serve address).")
@json_option
def create(config_path: Path | None, recipient: str, days: int | None, out: Path | None,
           endpoint: str | None, as_json: bool) -> None:
    """Create a token for RECIPIENT and write its Delta Sharing profile file."""
    from hrss_hub.ledger import Ledger
    from hrss_hub.share.server import default_profile_path
    from hrss_hub.share.settings import load_settings
    from hrss_hub.share.tokens import TokenStore, write_profile

    cfg = load_config(config_path)
    agreement = _agreement(cfg, recipient)
    settings = load_settings(cfg).with_overrides(endpoint=endpoint)
    path = default_profile_path(recipient, out)
    if path.exists():
        from hrss_hub.errors import ConfigError

        raise ConfigError("the profile file exists already", {"file": str(path)},
                          "choose another --out, or delete the old file first")
    with Ledger.open(cfg.ledger_url) as ledger:
        new = TokenStore(ledger).create(agreement, endpoint=settings.public_endpoint,
                                        actor=f"hub:{cfg.hub_id}", days=days)
    write_profile(path, settings.public_endpoint, new)
    if as_json:  # the token itself is only in the profile file
        emit_json({"id": new.info.id, "recipient": recipient,
                   "expires_at": new.info.expires_at.isoformat(), "profile": str(path),
                   "endpoint": settings.public_endpoint})
        return
    click.echo(f"token {new.info.id} for {recipient}, valid until "
               f"{new.info.expires_at.isoformat()}")
    click.echo(f"profile: {path} (keep it secret; hand it to {agreement.recipient_name})")


@token.command("list")
@_CONFIG
@click.argument("recipient", required=False)
@json_option
def list_tokens(config_path: Path | None, recipient: str | None, as_json: bool) -> None:
    """List tokens (id, recipient, status, expiry) — never the tokens themselves."""
    from hrss_hub.ledger import Ledger
    from hrss_hub.share.tokens import TokenStore

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        tokens = TokenStore(ledger).all(recipient)
    rows: list[dict[str, Any]] = [
        {"id": t.id, "recipient": t.recipient, "status": t.status(),
         "created_at": t.created_at.isoformat(), "expires_at": t.expires_at.isoformat(),
         "revoked_at": None if t.revoked_at is None else t.revoked_at.isoformat(),
         "endpoint": t.endpoint} for t in tokens]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no token" + (f" for {recipient}" if recipient else ""))
    for r in rows:
        click.echo(f"{r['id']:<18} {r['recipient']:<22} {r['status']:<8} "
                   f"expires {r['expires_at']}")


@token.command()
@_CONFIG
@click.argument("recipient")
@click.option("--id", "token_id", default=None,
              help="Revoke only this token (default: every token of RECIPIENT).")
@json_option
def revoke(config_path: Path | None, recipient: str, token_id: str | None,
           as_json: bool) -> None:
    """Revoke RECIPIENT's tokens (at once: the server checks on every request)."""
    from hrss_hub.ledger import Ledger
    from hrss_hub.share.tokens import TokenStore

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        revoked = TokenStore(ledger).revoke(recipient, actor=f"hub:{cfg.hub_id}",
                                            token_id=token_id)
    if as_json:
        emit_json({"recipient": recipient, "revoked": [t.id for t in revoked]})
        sys.exit(0 if revoked else 1)
    if not revoked:
        click.echo(f"no active token of {recipient} to revoke")
        sys.exit(1)
    for t in revoked:
        click.echo(f"revoked {t.id} ({recipient})")


def _agreement(cfg: HubConfig, recipient: str) -> Any:
    from hrss_hub.errors import unknown_choice
    from hrss_hub.exchange.policy import load_agreements

    agreements = {a.recipient_id: a for a in load_agreements(cfg.sharing_dir)}
    if recipient not in agreements:
        raise unknown_choice("recipient", recipient, agreements, folder=str(cfg.sharing_dir))
    return agreements[recipient]

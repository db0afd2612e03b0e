"""Assembling the sharing service of a workspace and running it on uvicorn."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

from starlette.applications import Starlette

from hrss_hub.config import HubConfig
from hrss_hub.ledger import Ledger
from hrss_hub.share.app import create_app
from hrss_hub.share.audit import ShareAudit
from hrss_hub.share.protocol import PageTokens
from hrss_hub.share.service import ShareService
from hrss_hub.share.settings import ShareSettings, url_key
from hrss_hub.share.shares import AgreementSource, ShareRegistry
from hrss_hub.share.storage import OutboxRoot
from hrss_hub.share.tokens import TokenStore
from hrss_hub.share.urls import FileUrls


def outbox_root(cfg: HubConfig) -> OutboxRoot:
    """The recipients' outboxes of a workspace, where the publisher delivers them
    (``cfg.outbox_uri``: ``outbox_uri`` of hub.yaml or ``HRSS_HUB_OUTBOX_URI``, else
    ``<exchange_root>/../outbox``)."""
    return OutboxRoot.open(cfg.outbox_uri)


def build_service(cfg: HubConfig, settings: ShareSettings, ledger: Ledger) -> ShareService:
    """The service of a workspace: its agreements, outboxes, ledger and URL key."""
    key = url_key(cfg.state_dir)
    outbox = outbox_root(cfg)
    registry = ShareRegistry(AgreementSource(cfg.sharing_dir), outbox, cfg.hub_id)
    urls = FileUrls(key, settings.public_endpoint, settings.url_ttl_seconds, outbox)
    pages = PageTokens(hmac.new(key, b"hrss-hub/share/page-token", hashlib.sha256).digest())
    return ShareService(registry=registry, tokens=TokenStore(ledger), urls=urls,
                        audit=ShareAudit(ledger), page_tokens=pages)


def build_app(cfg: HubConfig, settings: ShareSettings, ledger: Ledger) -> Starlette:
    """The ASGI application of a workspace."""
    return create_app(build_service(cfg, settings, ledger))


def serve(cfg: HubConfig, settings: ShareSettings) -> None:
    """Run the server until interrupted (TLS when a certificate is configured)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with Ledger.open(cfg.ledger_url) as ledger:
        app = build_app(cfg, settings, ledger)
        # uvicorn's access log would print query strings, i.e. the signatures of file
        # URLs; the app logs method, path, status and time instead
        uvicorn.run(app, host=settings.host, port=settings.port, access_log=False,
                    log_level="info",
                    ssl_certfile=None if settings.tls_cert is None else str(settings.tls_cert),
                    ssl_keyfile=None if settings.tls_key is None else str(settings.tls_key),
                    server_header=False)


def default_profile_path(recipient: str, out: Path | None) -> Path:
    """Where ``share token create`` writes the profile (``<recipient>.share``)."""
    if out is None:
        return Path.cwd() / f"{recipient}.share"
    return out / f"{recipient}.share" if out.is_dir() else out

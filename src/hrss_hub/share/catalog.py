"""The catalog's view of the shares: who reads what, under which terms, with which tokens.

For each agreement (one share): the recipient, its state (active / expired / revoked /
pending) and validity, per dataset the table name, whether its outbox table exists yet,
the columns kept, masked (and how) and dropped — every field of the standard's entity the
grant does not deliver counts as dropped, since columns are denied by default — the row
scope, and the token counts by status. Never a token: the ledger does not have them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date
from typing import Any

from hrss_hub.config import HubConfig
from hrss_hub.exchange.policy import load_agreements
from hrss_hub.ledger import Ledger
from hrss_hub.share.server import outbox_root
from hrss_hub.share.shares import SCHEMA, agreement_state
from hrss_hub.share.tables import DeltaTableReader
from hrss_hub.share.tokens import STATUSES, TokenStore
from hrss_hub.standard.model import load_standard


def share_section(cfg: HubConfig, ledger: Ledger | None,
                  today: date | None = None) -> list[dict[str, Any]]:
    """The shares of a workspace, as JSON-able dicts (see the module docstring)."""
    agreements = load_agreements(cfg.sharing_dir)
    if not agreements:
        return []
    standard = load_standard(cfg.standard_dir)
    outbox = outbox_root(cfg)
    tokens = TokenStore(ledger).all() if ledger is not None else []
    out: list[dict[str, Any]] = []
    for a in agreements:
        mine = [t for t in tokens if t.recipient == a.recipient_id]
        token_summary: dict[str, Any] = {s: sum(1 for t in mine if t.status() == s)
                                         for s in STATUSES}
        active = [t.expires_at for t in mine if t.status() == "active"]
        token_summary["next_expiry"] = min(active).isoformat() if active else None
        tables: list[dict[str, Any]] = []
        for name, grant in sorted(a.datasets.items()):
            fields: Sequence[str] = []
            if name in standard.entities:
                entity = standard.entity(name)
                fields = [f.name for f in (*entity.fields, *entity.lineage_fields)]
            reader = DeltaTableReader(outbox, f"{a.recipient_id}/{name}")
            exists = reader.exists()
            tables.append({
                "table": name, "qualified": f"{a.recipient_id}.{SCHEMA}.{name}",
                "shared": exists, "version": reader.latest_version() if exists else None,
                "kept": [c for c, act in grant.columns.items() if act == "keep"],
                "masked": {c: act for c, act in grant.columns.items()
                           if act in ("partial", "pseudonym")},
                "dropped": sorted({c for c, act in grant.columns.items() if act == "drop"}
                                  | {f for f in fields if f not in grant.columns}),
                "division_prefix": None if grant.division_prefixes is None
                else list(grant.division_prefixes)})
        out.append({
            "share": a.recipient_id, "recipient": a.recipient_id,
            "recipient_name": a.recipient_name, "purpose": a.purpose,
            "legal_basis": a.legal_basis, "state": agreement_state(a, today),
            "valid_from": a.valid_from.isoformat(), "valid_to": a.valid_to.isoformat(),
            "tables": tables,
            "tokens": token_summary,
        })
    return out


def render_shares_html(shares: Sequence[dict[str, Any]] | None) -> str:
    """The shares as an HTML fragment for the catalog page (no scripts, no assets)."""
    if not shares:
        return ""
    e = html.escape
    rows = []
    for s in shares:
        t = s["tokens"]
        token_text = (f"{t['active']} active, {t['expired']} expired, {t['revoked']} revoked"
                      + (f"; next expiry {t['next_expiry']}" if t["next_expiry"] else ""))
        for table in s["tables"] or [{"table": "-", "shared": False, "kept": [], "masked": {},
                                      "dropped": [], "division_prefix": None}]:
            rows.append(
                f"<tr><td>{e(s['recipient_name'])} ({e(s['recipient'])})</td>"
                f"<td><code>{e(s['share'])}.default.{e(table['table'])}</code>"
                f"{'' if table['shared'] else ' (not delivered yet)'}</td>"
                f"<td>{e(', '.join(table['kept']) or '-')}</td>"
                f"<td>{e(', '.join(f'{c} ({a})' for c, a in table['masked'].items()) or '-')}"
                f"</td><td>{e(', '.join(table['dropped']) or '-')}</td>"
                f"<td>{e(', '.join(table['division_prefix'] or ['all']))}</td>"
                f"<td>{e(s['state'])}: {e(s['valid_from'])}..{e(s['valid_to'])}</td>"
                f"<td>{e(token_text)}</td></tr>")
    return ("<h2 id='shares'>共享 · Shares (Delta Sharing)</h2>"
            "<table><tr><th>recipient</th><th>table</th><th>kept</th><th>masked</th>"
            "<th>dropped</th><th>rows</th><th>validity</th><th>tokens</th></tr>"
            + "".join(rows) + "</table>")

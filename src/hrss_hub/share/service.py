"""Who is calling and what they may read: the checks every sharing request runs.

A bearer token must be known, active (not expired, not revoked) and belong to a recipient
whose agreement is in force today; a share, schema or table must be the caller's; an
outbox version must be covered by the grant in force (:func:`~.shares.conformance`).
Every refusal of a known recipient is written to the audit chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from starlette.requests import Request

from hrss_hub.share import protocol as p
from hrss_hub.share.audit import ShareAudit
from hrss_hub.share.shares import (
    Conformance,
    Share,
    SharedTable,
    ShareRegistry,
    agreement_state,
    conformance,
)
from hrss_hub.share.tables import DeltaTableReader, Snapshot
from hrss_hub.share.tokens import TokenInfo, TokenStore
from hrss_hub.share.urls import FileUrls


@dataclass(frozen=True)
class Caller:
    """An authenticated recipient whose agreement is in force."""

    token: TokenInfo
    share: Share


@dataclass
class ShareService:
    """What the routes need: who is calling, what they may read, how to hand it out."""

    registry: ShareRegistry
    tokens: TokenStore
    urls: FileUrls
    audit: ShareAudit
    page_tokens: p.PageTokens
    today: Callable[[], date] = date.today

    # -- who is calling ------------------------------------------------------------------

    def caller(self, request: Request) -> Caller:
        """Authenticate the bearer token and check the recipient's agreement."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise p.unauthenticated("a bearer token is required (Authorization: Bearer …)")
        if scheme.lower() != "bearer" or not token.strip():
            raise p.unauthenticated("the Authorization header must be 'Bearer <token>'")
        info = self.tokens.authenticate(token.strip())
        if info is None:
            raise p.unauthenticated("the bearer token is not valid")
        status = info.status()
        if status == "revoked":
            raise p.unauthenticated(f"the bearer token {info.id} has been revoked")
        if status == "expired":
            raise p.unauthenticated(
                f"the bearer token {info.id} expired at {info.expires_at.isoformat()}")
        share = self.registry.share_of(info.recipient)
        if share is None:
            raise self.denied(info, p.forbidden(
                f"there is no sharing agreement for recipient {info.recipient}"),
                request.url.path)
        state = agreement_state(share.agreement, self.today())
        if state != "active":
            a = share.agreement
            why = {"revoked": "has been revoked",
                   "expired": f"expired on {a.valid_to}",
                   "pending": f"is not in force before {a.valid_from}"}[state]
            raise self.denied(info, p.forbidden(f"the sharing agreement of {a.recipient_id} "
                                                 f"{why}"), request.url.path)
        return Caller(info, share)

    def share_named(self, caller: Caller, name: str, path: str) -> Share:
        """The caller's share if ``name`` is it (case-insensitive), else 404."""
        if name.lower() != caller.share.name.lower():
            raise self.denied(caller.token, p.not_found(f"share {name!r} not found"), path)
        return caller.share

    def table_named(self, caller: Caller, share: str, schema: str, table: str,
                    path: str) -> SharedTable:
        """The caller's table ``share.schema.table``, else 404."""
        s = self.share_named(caller, share, path)
        found = self.registry.table(s, schema, table)
        if found is None:
            raise self.denied(caller.token, p.not_found(
                f"table {share}.{schema}.{table} not found"), path)
        return found

    def denied(self, token: TokenInfo, error: p.ProtocolError, path: str) -> p.ProtocolError:
        """Record a refusal of a known recipient in the audit chain; return the error."""
        self.audit.denied(recipient=token.recipient, token_id=token.id, status=error.status,
                          error_code=error.error_code, reason=error.message, path=path)
        return error

    # -- what the table holds ------------------------------------------------------------

    def reader(self, table: SharedTable) -> DeltaTableReader:
        """The table's log reader."""
        return self.registry.reader(table)

    def rules(self, caller: Caller, table: SharedTable, snapshot: Snapshot,
              path: str) -> Conformance:
        """Check ``snapshot`` against the grant in force (403 when it is not covered)."""
        rules = conformance(table, self.reader(table), snapshot.version,
                            snapshot.metadata.column_names, snapshot.metadata.partition_columns)
        if not rules.ok:
            raise self.denied(caller.token, p.forbidden(rules.reason or "not granted"), path)
        return rules

    def history_rules(self, caller: Caller, table: SharedTable, start: int, end: int,
                      path: str) -> Conformance:
        """Check every version a change feed ``start``..``end`` draws rows from: the
        version before ``start`` (removed files and pre-images come from it) up to
        ``end``. One snapshot is loaded; later versions follow the log's metadata. A
        version cut under a wider grant refuses the feed and names where it may start."""
        reader = self.reader(table)
        first = max(start - 1, 0)
        snap = reader.snapshot(first)
        columns = snap.metadata.column_names
        partitions = snap.metadata.partition_columns
        rules = conformance(table, reader, first, columns, partitions)
        last_bad = None if rules.ok else (first, rules)
        for commit in reader.commits(first + 1, end) if end > first else []:
            if commit.raw_metadata is None and commit.grant is None:
                continue
            if commit.raw_metadata is not None:
                columns = [f["name"] for f in json.loads(
                    commit.raw_metadata["schemaString"])["fields"]]
                partitions = tuple(commit.raw_metadata.get("partitionColumns") or ())
            rules = conformance(table, reader, commit.version, columns, partitions)
            if not rules.ok:
                last_bad = (commit.version, rules)
        if last_bad is not None:
            version, bad = last_bad
            if version >= end:
                raise self.denied(caller.token, p.forbidden(bad.reason or "not granted"),
                                   path)
            raise self.denied(caller.token, p.forbidden(
                f"version {version} of {table.qualified} was cut under a wider grant than "
                f"the agreement in force ({(bad.reason or '').split('; ')[0]}); read a "
                f"snapshot of version {version + 1} and the changes from version "
                f"{version + 2} on"), path)
        return rules

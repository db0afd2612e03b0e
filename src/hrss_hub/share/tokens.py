"""Bearer tokens of Delta Sharing recipients, kept hashed in the ledger.

A token is 256 random bits (``secrets.token_urlsafe(32)`` behind a readable prefix). The
ledger stores only its SHA-256 — a fast unsalted hash is enough for a random secret of
that length, and it lets the server find a token with one indexed lookup. The token
itself is written once, into the recipient's profile file (:func:`write_profile`), and
never printed, logged, audited or listed afterwards; listings and audit events name the
token's public ``id``.

A token expires when the recipient's agreement does (the end of its ``valid_to`` day,
local time, the same clock :meth:`Agreement.active_on` uses), or earlier on request.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hrss_hub.errors import ConfigError, LedgerError
from hrss_hub.exchange.policy import Agreement
from hrss_hub.ledger import Ledger
from hrss_hub.ledger.coltypes import utcnow
from hrss_hub.ledger.models import ShareToken

TOKEN_PREFIX = "hrss-share-"
#: token states shown by ``hrss-hub share token list``
STATUSES = ("active", "expired", "revoked")


@dataclass(frozen=True)
class TokenInfo:
    """What the hub knows about one token (everything but the token)."""

    id: str
    recipient: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    created_by: str
    endpoint: str

    def status(self, now: datetime | None = None) -> str:
        """``revoked``, ``expired`` or ``active`` at ``now`` (default: the current time)."""
        if self.revoked_at is not None:
            return "revoked"
        if (now or utcnow()) >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: the secret, returned once, and its record."""

    token: str
    info: TokenInfo


def token_sha256(token: str) -> str:
    """The hex SHA-256 under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def agreement_end(agreement: Agreement) -> datetime:
    """The instant an agreement stops being in force: midnight (local time) after
    ``valid_to``, in UTC."""
    return _local_midnight(agreement.valid_to + timedelta(days=1))


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min).astimezone().astimezone(UTC)


class TokenStore:
    """The ``share_tokens`` table of a ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._sessions = sessionmaker(ledger.engine, expire_on_commit=False)

    def create(self, agreement: Agreement, *, endpoint: str, actor: str,
               days: int | None = None, now: datetime | None = None) -> NewToken:
        """A new token for ``agreement``'s recipient, valid until the agreement ends or
        for ``days`` days if that is sooner. Refused for an agreement no longer in force."""
        now = now or utcnow()
        end = agreement_end(agreement)
        if agreement.revoked:
            raise ConfigError("the agreement is revoked: no token can be issued",
                              {"recipient": agreement.recipient_id,
                               "file": str(agreement.source_file)})
        if end <= now:
            raise ConfigError(f"the agreement expired on {agreement.valid_to}: no token can "
                              "be issued", {"recipient": agreement.recipient_id,
                                            "file": str(agreement.source_file)},
                              "renew the agreement (valid_to) first")
        if days is not None:
            if days <= 0:
                raise ConfigError(f"--days must be positive, got {days}", {})
            end = min(end, now + timedelta(days=days))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ShareToken(id=f"tok-{secrets.token_hex(6)}", recipient=agreement.recipient_id,
                         token_sha256=token_sha256(token), created_at=now, expires_at=end,
                         revoked_at=None, created_by=actor, endpoint=endpoint)
        with self._tx() as s:
            s.add(row)
        info = _info(row)
        self.ledger.append_audit(actor, "share_token_create", f"{info.recipient}:{info.id}",
                                 {"recipient": info.recipient, "token_id": info.id,
                                  "expires_at": info.expires_at.isoformat(),
                                  "endpoint": endpoint})
        return NewToken(token, info)

    def authenticate(self, token: str) -> TokenInfo | None:
        """The record of ``token`` (whatever its status), or ``None`` if unknown."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self._tx() as s:
            row = s.scalar(select(ShareToken).where(
                ShareToken.token_sha256 == token_sha256(token)))
            return None if row is None else _info(row)

    def get(self, token_id: str) -> TokenInfo | None:
        """The record with public id ``token_id``, or ``None``."""
        with self._tx() as s:
            row = s.get(ShareToken, token_id)
            return None if row is None else _info(row)

    def all(self, recipient: str | None = None) -> list[TokenInfo]:
        """Every token (of ``recipient``), oldest first."""
        query = select(ShareToken).order_by(ShareToken.created_at, ShareToken.id)
        if recipient is not None:
            query = query.where(ShareToken.recipient == recipient)
        with self._tx() as s:
            return [_info(r) for r in s.scalars(query)]

    def revoke(self, recipient: str, *, actor: str, token_id: str | None = None,
               now: datetime | None = None) -> list[TokenInfo]:
        """Revoke ``token_id`` (which must be ``recipient``'s) or, without it, every token
        of ``recipient`` not yet revoked; return the tokens revoked now."""
        now = now or utcnow()
        query = update(ShareToken).where(ShareToken.recipient == recipient,
                                         ShareToken.revoked_at.is_(None))
        if token_id is not None:
            found = self.get(token_id)
            if found is None or found.recipient != recipient:
                raise ConfigError(f"no token {token_id!r} of recipient {recipient!r}",
                                  {"recipient": recipient},
                                  "`hrss-hub share token list` shows the token ids")
            query = query.where(ShareToken.id == token_id)
        before = {t.id for t in self.all(recipient) if t.revoked_at is None}
        with self._tx() as s:
            s.execute(query.values(revoked_at=now))
        revoked = [t for t in self.all(recipient) if t.id in before and t.revoked_at is not None]
        for t in revoked:
            self.ledger.append_audit(actor, "share_token_revoke", f"{recipient}:{t.id}",
                                     {"recipient": recipient, "token_id": t.id})
        return revoked

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with self._sessions() as s, s.begin():
                yield s
        except DBAPIError as exc:
            first = str(exc.orig).strip().splitlines()[:1]
            raise LedgerError(f"ledger database error: {first[0] if first else exc}",
                              {"url": self.ledger.safe_url},
                              "run `hrss-hub ledger upgrade`") from None
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger error: {type(exc).__name__}",
                              {"url": self.ledger.safe_url}) from exc


def _info(row: ShareToken) -> TokenInfo:
    return TokenInfo(id=row.id, recipient=row.recipient, created_at=row.created_at,
                     expires_at=row.expires_at, revoked_at=row.revoked_at,
                     created_by=row.created_by, endpoint=row.endpoint)


def profile_document(endpoint: str, new: NewToken) -> dict[str, object]:
    """The Delta Sharing profile (``*.share``, shareCredentialsVersion 1) of a token."""
    expires = new.info.expires_at.astimezone(UTC)
    return {"shareCredentialsVersion": 1, "endpoint": endpoint,
            "bearerToken": new.token,
            "expirationTime": expires.strftime("%Y-%m-%dT%H:%M:%S.") +
            f"{expires.microsecond // 1000:03d}Z"}


def write_profile(path: Path, endpoint: str, new: NewToken) -> Path:
    """Write the profile file with mode 0600 (it holds a secret); refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("the profile file exists already", {"file": str(path)},
                          "choose another --out, or delete the old file (revoke its token "
                          "first if it is no longer needed)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(profile_document(endpoint, new), fh, indent=2)
        fh.write("\n")
    return path

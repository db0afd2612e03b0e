"""Short-lived URLs for data files.

Clients fetch the files a query lists with plain GETs, without their bearer token, so each
URL carries its own authority: on a local outbox, a path on this server

    {endpoint}/files/{token id}/{share}/{schema}/{table}/{version}/{file path}
        ?e={expiry in ms}&n={nonce}&s={signature}

where the signature is HMAC-SHA256, under the server's URL key, of every part of it (the
nonce makes every issued URL unique, so each fetch of one is one download). The
server checks it in constant time, refuses it once expired (403), and — because the URL
names the token it was issued to — also once that token is revoked or its agreement ends.
On an S3 outbox the URL is an S3 presigned GET of the same file and life time; S3 checks
it, and the query's audit event lists the files it was issued for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from hrss_hub.share.protocol import ProtocolError, forbidden
from hrss_hub.share.shares import SharedTable
from hrss_hub.share.storage import OutboxRoot
from hrss_hub.share.tables import FileAction


@dataclass(frozen=True)
class FileGrant:
    """What a verified file URL entitles: one file of one table version, for one token."""

    token_id: str
    share: str
    schema: str
    table: str
    version: int
    path: str  # as in the Delta log
    expires_ms: int
    nonce: str
    signature: str


class FileUrls:
    """Issues and checks file URLs."""

    def __init__(self, key: bytes, endpoint: str, ttl_seconds: int, outbox: OutboxRoot) -> None:
        self._key = hmac.new(key, b"hrss-hub/share/file-url", hashlib.sha256).digest()
        self.endpoint = endpoint.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self.outbox = outbox

    def issue(self, table: SharedTable, token_id: str, version: int,
              action: FileAction, now_ms: int | None = None) -> tuple[str, int]:
        """(URL, expiry in ms since the epoch) for ``action``'s file."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        expires = now_ms + self.ttl_seconds * 1000
        if self.outbox.is_s3:
            return self.outbox.presign(f"{table.rel}/{action.file_path}", self.ttl_seconds), \
                expires
        nonce = secrets.token_hex(6)
        sig = self._sign(token_id, table.share, table.schema, table.name, version,
                         action.path, expires, nonce)
        url = (f"{self.endpoint}/files/{quote(token_id)}/{quote(table.share)}/"
               f"{quote(table.schema)}/{quote(table.name)}/{version}/"
               f"{quote(action.path, safe='/')}?e={expires}&n={nonce}&s={sig}")
        return url, expires

    def verify(self, token_id: str, share: str, schema: str, table: str, version: str,
               path: str, expires: str | None, nonce: str | None, signature: str | None,
               now_ms: int | None = None) -> FileGrant:
        """The grant of a file URL; a tampered, malformed or expired URL is a 403."""
        if not expires or not signature or not nonce or not expires.isdigit() \
                or not version.isdigit():
            raise forbidden("this file URL is not signed by this server")
        expected = self._sign(token_id, share, schema, table, int(version), path, int(expires),
                              nonce)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise forbidden("this file URL is not signed by this server")
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if now_ms >= int(expires):
            raise ProtocolError(403, "PERMISSION_DENIED",
                                "this file URL has expired; query the table again for a "
                                "fresh one")
        return FileGrant(token_id, share, schema, table, int(version), path, int(expires),
                         nonce, signature)

    def _sign(self, token_id: str, share: str, schema: str, table: str, version: int,
              path: str, expires: int, nonce: str) -> str:
        message = "\n".join((token_id, share, schema, table, str(version), path, str(expires),
                             nonce))
        return hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).hexdigest()

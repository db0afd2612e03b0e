"""What the sharing server writes into the ledger's hash-chained audit log.

- ``share_query``: every table query and change-feed read — recipient, token id, share,
  schema, table, version (range), response format and the files it listed;
- ``share_download``: every data file fetched through a signed URL — recipient, token id,
  table, version, file. A client reads one file with several ranged GETs (footer first,
  then column chunks); they are one download, recorded once per URL by the process that
  serves the first byte (presigned S3 URLs are fetched from S3: their query event lists
  the files);
- ``share_denied``: a refused request of a known recipient (expired or revoked agreement,
  a share or table that is not theirs, a changed grant) — unknown tokens are not recorded,
  so nobody can fill the chain by guessing.

The bearer token itself never appears: events name the token's public id.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from hrss_hub.ledger import Ledger


class ShareAudit:
    """Appends the server's events to the audit chain."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, *, recipient: str, token_id: str, table: str, version: int, kind: str,
              response_format: str, files: Sequence[str],
              extra: Mapping[str, Any] | None = None) -> str:
        """Record a query; return the chain head."""
        details: dict[str, Any] = {"recipient": recipient, "token_id": token_id,
                                   "table": table, "version": version, "kind": kind,
                                   "format": response_format, "files": list(files),
                                   **(extra or {})}
        return self.ledger.append_audit(f"recipient:{recipient}", "share_query",
                                        f"{table}@v{version}", details)

    def download(self, *, recipient: str, token_id: str, table: str, version: int,
                 file: str, url_signature: str, url_expires_ms: int,
                 byte_range: str | None) -> str | None:
        """Record the first fetch through one URL; return the chain head (``None`` when
        this URL's download is recorded already)."""
        now = int(time.time() * 1000)
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if url_signature in self._seen:
                return None
            self._seen[url_signature] = url_expires_ms
        return self.ledger.append_audit(
            f"recipient:{recipient}", "share_download", f"{table}@v{version}/{file}",
            {"recipient": recipient, "token_id": token_id, "table": table,
             "version": version, "file": file, "range": byte_range})

    def denied(self, *, recipient: str, token_id: str, status: int, error_code: str,
               reason: str, path: str) -> str:
        """Record a refused request of a known recipient."""
        return self.ledger.append_audit(
            f"recipient:{recipient}", "share_denied", f"{recipient}:{path}",
            {"recipient": recipient, "token_id": token_id, "status": status,
             "error_code": error_code, "reason": reason})

"""The wire format of the Delta Sharing protocol (PROTOCOL.md of delta-io/delta-sharing).

Query responses are NDJSON: a ``protocol`` line, a ``metaData`` line, then one line per
file. Two response formats exist, chosen by the client's ``delta-sharing-capabilities``
header (``responseformat=parquet`` — the default, what every connector reads — or
``responseformat=delta``, Delta log actions wrapped for delta-kernel based clients). When a
client accepts both, the protocol lets the server pick parquet for tables without
advanced reader features, which is what this server does: the hub's outboxes use none.

Page tokens of the list endpoints are opaque to clients; here they are an offset signed
with the server's key, bound to the listing they came from, so a token cannot be replayed
against another share.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hrss_hub.share.tables import FileAction, Snapshot, TableMetadata

PARQUET = "parquet"
DELTA = "delta"
CAPABILITIES_HEADER = "delta-sharing-capabilities"
TABLE_VERSION_HEADER = "Delta-Table-Version"
NDJSON = "application/x-ndjson; charset=utf-8"
#: the protocol reader version of the parquet response format
PARQUET_READER_VERSION = 1
JSONDict = dict[str, Any]


class ProtocolError(Exception):
    """A request the protocol answers with an error: status, ``errorCode``, message."""

    def __init__(self, status: int, error_code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> JSONDict:
        """The protocol's JSON error body."""
        return {"errorCode": self.error_code, "message": self.message}


def bad_request(message: str, code: str = "INVALID_PARAMETER_VALUE") -> ProtocolError:
    """400 with ``errorCode`` ``code``."""
    return ProtocolError(400, code, message)


def not_found(message: str) -> ProtocolError:
    """404 RESOURCE_DOES_NOT_EXIST."""
    return ProtocolError(404, "RESOURCE_DOES_NOT_EXIST", message)


def unauthenticated(message: str) -> ProtocolError:
    """401 with the RFC 6750 challenge."""
    return ProtocolError(401, "UNAUTHENTICATED", message,
                         {"WWW-Authenticate": 'Bearer realm="hrss-hub"'})


def forbidden(message: str) -> ProtocolError:
    """403 PERMISSION_DENIED."""
    return ProtocolError(403, "PERMISSION_DENIED", message)


@dataclass(frozen=True)
class Capabilities:
    """A parsed ``delta-sharing-capabilities`` header (keys and values lower-cased)."""

    values: Mapping[str, tuple[str, ...]]

    @classmethod
    def parse(cls, header: str | None) -> Capabilities:
        """``responseformat=delta,parquet;readerfeatures=deletionvectors`` → mapping."""
        out: dict[str, tuple[str, ...]] = {}
        for part in (header or "").split(";"):
            key, sep, value = part.partition("=")
            if sep and key.strip():
                out[key.strip().lower()] = tuple(v.strip().lower() for v in value.split(",")
                                                 if v.strip())
        return cls(out)

    def response_format(self, metadata: TableMetadata) -> str:
        """The format to answer in: parquet unless the client asks for delta only, or the
        table needs reader features parquet cannot express."""
        formats = self.values.get("responseformat") or (PARQUET,)
        unknown = [f for f in formats if f not in (PARQUET, DELTA)]
        if unknown:
            raise bad_request(f"unknown responseformat {unknown[0]!r} (parquet, delta)")
        advanced = metadata.min_reader_version > PARQUET_READER_VERSION
        if PARQUET in formats and not advanced:
            return PARQUET
        if DELTA in formats:
            return DELTA
        raise bad_request("the table needs Delta reader features the parquet response "
                          "format cannot express; ask for responseformat=delta",
                          "UNSUPPORTED_OPERATION")

    @property
    def end_stream(self) -> bool:
        """Whether the client asked for an ``endStreamAction`` line at the end."""
        return self.values.get("includeendstreamaction") == ("true",)

    def echo(self, response_format: str) -> dict[str, str]:
        """The capabilities header of the response (``includeendstreamaction=true`` is
        echoed when requested: this server then always ends with the action)."""
        value = f"responseformat={response_format}"
        if self.end_stream:
            value += ";includeendstreamaction=true"
        return {CAPABILITIES_HEADER: value}


def end_stream_line(lines: Sequence[Mapping[str, Any]]) -> JSONDict:
    """The ``endStreamAction`` closing a response: the earliest URL expiry in it."""
    expiries = []
    for x in lines:
        for key in ("file", "add", "cdf", "remove"):
            entry = x.get(key)
            if isinstance(entry, Mapping) and entry.get("expirationTimestamp") is not None:
                expiries.append(int(entry["expirationTimestamp"]))
    action: JSONDict = {}
    if expiries:
        action["minUrlExpirationTimestamp"] = min(expiries)
    return {"endStreamAction": action}


def line(obj: Mapping[str, Any]) -> bytes:
    """One NDJSON line."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def protocol_line(meta: TableMetadata, fmt: str) -> JSONDict:
    """The ``protocol`` action."""
    if fmt == PARQUET:
        return {"protocol": {"minReaderVersion": PARQUET_READER_VERSION}}
    proto: JSONDict = {"minReaderVersion": meta.min_reader_version,
                       "minWriterVersion": meta.min_writer_version}
    if meta.reader_features is not None:
        proto["readerFeatures"] = list(meta.reader_features)
    if meta.writer_features is not None:
        proto["writerFeatures"] = list(meta.writer_features)
    return {"protocol": {"deltaProtocol": proto}}


def metadata_line(meta: TableMetadata, fmt: str, *, version: int | None = None,
                  snapshot: Snapshot | None = None) -> JSONDict:
    """The ``metaData`` action; ``version`` when the request asked for one, size and file
    count when a snapshot is at hand."""
    extra: JSONDict = {}
    if version is not None:
        extra["version"] = version
    if snapshot is not None:
        extra["size"] = snapshot.size
        extra["numFiles"] = len(snapshot.files)
    if fmt == PARQUET:
        body: JSONDict = {"id": meta.id, "format": {"provider": "parquet"},
                          "schemaString": meta.schema_string,
                          "partitionColumns": list(meta.partition_columns),
                          "configuration": dict(meta.configuration)}
        if meta.name:
            body["name"] = meta.name
        if meta.description:
            body["description"] = meta.description
        return {"metaData": {**body, **extra}}
    delta: JSONDict = {"id": meta.id, "name": meta.name, "description": meta.description,
                       "format": {"provider": "parquet", "options": {}},
                       "schemaString": meta.schema_string,
                       "partitionColumns": list(meta.partition_columns),
                       "configuration": dict(meta.configuration)}
    if meta.created_time is not None:
        delta["createdTime"] = meta.created_time
    return {"metaData": {"deltaMetadata": delta, **extra}}


def file_id(table_id: str, action: FileAction) -> str:
    """A stable id of a data file: the same file has the same id in every response."""
    return hashlib.sha256(f"{table_id}\n{action.path}".encode()).hexdigest()[:32]


def file_line(action: FileAction, *, table_id: str, url: str, expires_ms: int, fmt: str,
              change: bool, with_version: bool = False) -> JSONDict:
    """One file of a snapshot (``change=False``) or of a change feed (``change=True``)."""
    fid = file_id(table_id, action)
    if fmt == DELTA:
        wrapped: JSONDict = {"id": fid, "expirationTimestamp": expires_ms,
                             "deltaSingleAction": action.delta_action(url)}
        if change or with_version:
            wrapped["version"] = action.version
            wrapped["timestamp"] = action.timestamp
        wrapped["size"] = action.size
        return {"file": wrapped}
    body: JSONDict = {"url": url, "id": fid, "partitionValues": dict(action.partition_values),
                      "size": action.size, "expirationTimestamp": expires_ms}
    if action.stats is not None and action.kind == "add":
        body["stats"] = action.stats
    if change or with_version:
        body["version"] = action.version
        body["timestamp"] = action.timestamp
    if not change:
        return {"file": body}
    return {{"add": "add", "remove": "remove", "cdc": "cdf"}[action.kind]: body}


# -- pagination ------------------------------------------------------------------------


@dataclass(frozen=True)
class PageTokens:
    """Signs and checks the ``nextPageToken`` of list endpoints."""

    key: bytes

    def encode(self, listing: str, offset: int) -> str:
        """A token for continuing ``listing`` at ``offset``."""
        payload = json.dumps({"l": listing, "o": offset}, separators=(",", ":")).encode()
        sig = hmac.new(self.key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(payload + sig).decode().rstrip("=")

    def decode(self, listing: str, token: str | None) -> int:
        """The offset a token continues at (0 without one); a forged, foreign or
        malformed token is a 400."""
        if token in (None, ""):
            return 0
        assert token is not None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload, sig = raw[:-16], raw[-16:]
            good = hmac.compare_digest(
                sig, hmac.new(self.key, payload, hashlib.sha256).digest()[:16])
            doc = json.loads(payload) if good else None
        except (ValueError, json.JSONDecodeError):
            doc = None
        if not isinstance(doc, dict) or doc.get("l") != listing or not isinstance(
                doc.get("o"), int) or doc["o"] < 0:
            raise bad_request("pageToken is not a token this listing returned")
        offset: int = doc["o"]
        return offset


def page(items: Sequence[JSONDict], *, listing: str, tokens: PageTokens,
         max_results: str | None, page_token: str | None,
         default_max: int = 500) -> JSONDict:
    """One page of a list response: ``items`` and, when more remain, ``nextPageToken``."""
    if max_results in (None, ""):
        limit = default_max
    else:
        assert max_results is not None
        try:
            limit = int(max_results)
        except ValueError:
            raise bad_request(f"maxResults must be an integer, got {max_results!r}") from None
        if limit < 0:
            raise bad_request(f"maxResults must be non-negative, got {limit}")
        limit = min(limit, 1000)
    start = tokens.decode(listing, page_token)
    chunk = list(items[start:start + limit])
    out: JSONDict = {"items": chunk}
    if start + limit < len(items):
        out["nextPageToken"] = tokens.encode(listing, start + limit)
    return out

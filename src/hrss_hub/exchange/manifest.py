"""Hub manifests of Delta versions: their JSON form, place, hashing and parsing.

Every Delta version the hub commits gets a manifest at
``<table>/_hrss/manifests/<version>.json`` (20-digit version, like the log) and a
detached signature ``<version>.sig`` next to it. Delta readers skip ``_``-prefixed
folders, so the manifests cost plain readers nothing. A manifest binds, under the hub's
signature:

- the Delta version and the digest of its commit file (``_delta_log/<version>.json``),
  so an edited log entry, or one the hub did not write, is detected;
- every active data file of the version with its size, row count, partition and digest,
  so a flipped byte, an added, removed or swapped file is detected;
- the schema and its fingerprint, the standard version, the publisher, the quality of the
  runs whose rows the version absorbed, the audit-chain head at publish time, and the
  previous manifest's digest (a chain: a removed or replaced manifest breaks it).

Manifests are canonical JSON (sorted keys, UTF-8), so their digest and signature do not
depend on who serialised them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

from hrss_hub.errors import PublishError
from hrss_hub.exchange.staging import schema_fingerprint

FORMAT = "hrss-hub/delta-manifest/1"
MANIFESTS = "manifests"
INTENTS = "intents"

__all__ = ["FORMAT", "canonical_bytes", "manifest_rel", "parse_manifest", "schema_fingerprint",
           "schema_from_json", "schema_json", "sha256_bytes", "signature_rel"]


def manifest_rel(version: int) -> str:
    """Path of a version's manifest inside ``<table>/_hrss/``."""
    return f"{MANIFESTS}/{version:020d}.json"


def signature_rel(version: int) -> str:
    """Path of a version's signature inside ``<table>/_hrss/``."""
    return f"{MANIFESTS}/{version:020d}.sig"


def parse_manifest_name(name: str) -> int | None:
    """The version of a manifest file name (``None`` for anything else)."""
    stem, _, ext = name.partition(".")
    return int(stem) if ext == "json" and stem.isdigit() else None


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of a manifest (stable digest and signature)."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    """The schema as a JSON list (names, types, nullability)."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """Parse manifest bytes; errors name the file."""
    try:
        doc: dict[str, Any] = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PublishError(f"manifest is not valid JSON: {exc}", {"file": where}) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PublishError("not an hrss-hub Delta manifest", {"file": where})
    return doc


def schema_from_json(fields: list[dict[str, Any]]) -> pa.Schema:
    """Rebuild the Arrow schema stored in a manifest (types as Arrow spells them)."""
    from hrss_hub.standard.check import parse_type

    out = []
    for f in fields:
        arrow = _arrow_type(str(f["type"]), parse_type)
        out.append(pa.field(str(f["name"]), arrow, nullable=bool(f["nullable"])))
    return pa.schema(out)


def _arrow_type(text: str, parse_type: Any) -> pa.DataType:
    simple = {"string": pa.string(), "large_string": pa.large_string(), "int64": pa.int64(),
              "int32": pa.int32(), "bool": pa.bool_(), "date32[day]": pa.date32(),
              "double": pa.float64(), "float": pa.float32()}
    if text in simple:
        return simple[text]
    if text.startswith("decimal128("):
        p, s = text[len("decimal128("):-1].split(",")
        return pa.decimal128(int(p), int(s))
    if text.startswith("timestamp["):
        inner = text[len("timestamp["):-1]
        unit, _, tz = inner.partition(", tz=")
        return pa.timestamp(unit, tz=tz or None)
    parsed = parse_type(text)
    if parsed is None:
        raise PublishError(f"manifest schema has an unknown type {text!r}")
    result: pa.DataType = parsed
    return result

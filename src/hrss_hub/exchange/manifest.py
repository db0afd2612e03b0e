"""Manifests and pointers: their JSON form, hashing and parsing.

A dataset version is described by ``v<N>/_manifest.json`` (signed by ``v<N>/_manifest.sig``)
and made current by ``CURRENT``, a pointer naming the version and the SHA-256 of its
manifest. Manifests are written as canonical JSON (sorted keys, UTF-8) so that their
hash and signature do not depend on who serialised them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from hrss_hub.errors import PublishError

FORMAT = "hrss-hub/exchange-manifest/1"
POINTER = "CURRENT"
# leading "_": Parquet readers pointed at a version folder (pyarrow, pandas, Spark) skip
# such files as metadata, so ``pd.read_parquet("person/v3")`` just works
MANIFEST = "_manifest.json"
SIGNATURE = "_manifest.sig"


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of a manifest (stable hash and signature)."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    """The schema as a JSON list (names, types, nullability)."""
    return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]


def version_dir(version: int) -> str:
    """Folder name of a version."""
    return f"v{version}"


def parse_version_dir(name: str) -> int | None:
    """The version number of a folder name like ``v12`` (else ``None``)."""
    if name.startswith("v") and name[1:].isdigit():
        return int(name[1:])
    return None


@dataclass(frozen=True)
class Pointer:
    """Content of a ``CURRENT`` pointer."""

    dataset: str
    version: int
    manifest_sha256: str

    def to_bytes(self) -> bytes:
        """Serialized form."""
        return json.dumps({"dataset": self.dataset, "version": self.version,
                           "manifest": f"{version_dir(self.version)}/{MANIFEST}",
                           "manifest_sha256": self.manifest_sha256}, indent=1).encode()

    @classmethod
    def parse(cls, data: bytes, where: str) -> Pointer:
        """Parse pointer bytes; a broken pointer is a :class:`PublishError`."""
        try:
            doc = json.loads(data)
            return cls(str(doc["dataset"]), int(doc["version"]), str(doc["manifest_sha256"]))
        except (ValueError, KeyError, TypeError):
            raise PublishError("dataset pointer is unreadable", {"file": where},
                               "run `hrss-hub verify` on the dataset folder") from None


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """Parse manifest bytes; errors name the file."""
    try:
        doc: dict[str, Any] = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PublishError(f"manifest is not valid JSON: {exc}", {"file": where}) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PublishError("not an hrss-hub exchange manifest", {"file": where})
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

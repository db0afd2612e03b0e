"""Levels: a city hub merges what its districts report up (上报).

A district reports up by *delivering* to its city like to any recipient: an agreement
with ``recipient.level: city`` puts a signed extract into the city's outbox folder. The
city then merges those extracts into its own dataset version with
:func:`merge_upstream`: every source is verified first (signature against the trusted
district keys, checksums, schema), rows are deduplicated by key across districts (the
latest record wins, with its lineage columns), and the new manifest lists each upstream
version it was built from. Distributing down (下发) needs nothing special: the city
delivers to district recipients whose agreements scope rows by division prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hrss_hub.errors import PublishError
from hrss_hub.exchange.commit import CommittedVersion, current_version, publish_lock
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.verify import verify_version
from hrss_hub.standard.model import Entity


@dataclass(frozen=True)
class Upstream:
    """One lower-level source: a store (e.g. ``outbox/city-510100``) holding the dataset."""

    root: str | Path | Store
    name: str


def merge_upstream(store: Store, entity: Entity, sources: Sequence[Upstream], *,
                   signer: Signer, publisher: dict[str, str], standard_version: str,
                   trusted: list[Ed25519PublicKey] | None = None,
                   keep: int = 10) -> CommittedVersion | None:
    """Merge the current versions of ``sources`` into the next version of ``entity``.

    Returns ``None`` when every source is already part of the current version.
    """
    from hrss_hub.exchange.versions import _commit_merged

    verified: list[tuple[Upstream, Store, CommittedVersion]] = []
    for src in sources:
        src_store = Store.open(src.root)
        version = current_version(src_store, entity.name)
        if version is None:
            continue
        report = verify_version(src_store, entity.name, version.version, trusted=trusted,
                                expected_sha256=version.manifest_sha256)
        if not report.ok:
            raise PublishError("upstream dataset failed verification: "
                               + "; ".join(report.problems),
                               {"source": src.name, "dataset": entity.name,
                                "version": version.version},
                               "ask the lower-level hub to republish; nothing was merged")
        verified.append((src, src_store, version))
    with publish_lock(store, entity.name):
        base = current_version(store, entity.name)
        seen = set() if base is None else {
            u["manifest_sha256"] for u in base.manifest.get("lineage", {}).get("upstream", [])}
        fresh = [v for v in verified if v[2].manifest_sha256 not in seen]
        if not fresh:
            return None
        schema = entity.arrow_schema(include_lineage=True)
        tables = [] if base is None else [read_version(store, entity.name, base.version)]
        upstream: list[dict[str, Any]] = [] if base is None else list(
            base.manifest.get("lineage", {}).get("upstream", []))
        for src, src_store, version in fresh:
            table = read_version(src_store, entity.name, version.version)
            missing = [n for n in schema.names if n not in table.column_names]
            if missing:
                raise PublishError("upstream extract lacks columns needed to merge",
                                   {"source": src.name, "dataset": entity.name,
                                    "columns": ", ".join(missing)},
                                   "the reporting agreement must keep every column "
                                   "(including lineage) unmasked")
            tables.append(table)
            upstream.append({"source": src.name, "version": version.version,
                             "manifest_sha256": version.manifest_sha256,
                             "rows": version.rows,
                             "publisher": version.manifest.get("publisher")})
        return _commit_merged(store, entity, tables, signer=signer, keep=keep, meta_extra={
            "standard_version": standard_version, "publisher": publisher, "quality": {},
        }, lineage_extra={"inputs": [], "upstream": upstream})

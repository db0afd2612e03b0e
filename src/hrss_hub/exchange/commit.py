"""Committing a hub version of a Delta table: intent, Delta commit, signed manifest.

The order is the whole protocol:

1. write a signed **intent** ``_hrss/intents/<txn>.json`` (base version, operation, the
   manifest sections known in advance);
2. make the **Delta commit** against the snapshot the decision was taken on, with
   ``hrss.txn`` in its ``commitInfo`` (atomic: readers see version N whole or not at all);
3. write the **manifest** of version N (files with digests, commit digest, the intent's
   sections) and its **signature**, then delete the intent.

Killed before 2, nothing is visible (an orphan intent is swept later). Killed between 2
and 3, Delta readers already see version N (complete data), the hub's readers still see
version N-1 (the newest *signed* version), and the next publish :func:`recover` s: a log
version without manifest whose ``hrss.txn`` names a signed intent of this hub, based on
N-1, gets its manifest; any other unsigned log entry was written outside the hub and
stops publishing with a clear error. Tables (hub datasets and recipient outboxes) share
this code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hrss_hub.errors import HubError, PublishError
from hrss_hub.exchange.layout import TableLayout
from hrss_hub.exchange.manifest import (
    FORMAT,
    INTENTS,
    MANIFESTS,
    canonical_bytes,
    manifest_rel,
    parse_manifest,
    parse_manifest_name,
    schema_fingerprint,
    schema_json,
    sha256_bytes,
    signature_rel,
)
from hrss_hub.exchange.signing import Signer, verify_signature
from hrss_hub.exchange.suites import digest_bytes, digest_name
from hrss_hub.exchange.tables import DataFile, Table

#: commitInfo key naming the hub transaction of a commit
TXN_KEY = "hrss.txn"
OPERATION_KEY = "hrss.operation"


@dataclass(frozen=True)
class CommittedVersion:
    """A signed hub version of a table."""

    dataset: str
    version: int
    rows: int
    manifest: dict[str, Any]
    manifest_sha256: str  # SHA-256 of the manifest bytes (what the ledger records)
    manifest_path: str  # display location (local path or URI)


def manifest_versions(table: Table) -> list[int]:
    """Versions that have a manifest file (ascending)."""
    out = []
    for name in table.hub.listdir(MANIFESTS):
        n = parse_manifest_name(name)
        if n is not None:
            out.append(n)
    return sorted(out)


def read_manifest(table: Table, version: int) -> tuple[dict[str, Any], bytes]:
    """The parsed manifest of ``version`` and its raw bytes."""
    rel = manifest_rel(version)
    try:
        data = table.hub.read_bytes(rel)
    except FileNotFoundError:
        raise PublishError("no hub manifest for this version", {
            "table": table.display(), "version": version},
            "list versions with: hrss-hub exchange history") from None
    return parse_manifest(data, table.hub.display(rel)), data


def committed(table: Table, version: int) -> CommittedVersion:
    """The signed version ``version`` (its manifest must exist)."""
    doc, raw = read_manifest(table, version)
    return CommittedVersion(str(doc["dataset"]), version, int(doc["rows"]), doc,
                            sha256_bytes(raw), table.hub.display(manifest_rel(version)))


def latest_signed(table: Table) -> CommittedVersion | None:
    """The newest version with a manifest (what the hub's readers call current)."""
    versions = manifest_versions(table)
    return committed(table, versions[-1]) if versions else None


def new_txn() -> str:
    """A fresh transaction id."""
    return uuid.uuid4().hex


def write_intent(table: Table, signer: Signer, txn: str, base_version: int | None,
                 operation: str, meta: dict[str, Any]) -> None:
    """Step 1: the signed intent of a commit (see the module docstring)."""
    doc = {"format": "hrss-hub/intent/1", "txn": txn, "base_version": base_version,
           "operation": operation, "meta": meta,
           "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    data = canonical_bytes(doc)
    table.hub.replace_atomic(f"{INTENTS}/{txn}.sig", signer.sign(data))
    table.hub.replace_atomic(f"{INTENTS}/{txn}.json", data)


def drop_intent(table: Table, txn: str) -> None:
    """Remove an intent (after its manifest is written, or when its commit failed)."""
    table.hub.delete_file(f"{INTENTS}/{txn}.json")
    table.hub.delete_file(f"{INTENTS}/{txn}.sig")


def _read_intent(table: Table, txn: str, signer: Signer) -> dict[str, Any] | None:
    try:
        data = table.hub.read_bytes(f"{INTENTS}/{txn}.json")
        sig = table.hub.read_bytes(f"{INTENTS}/{txn}.sig")
    except FileNotFoundError:
        return None
    problems, _ = verify_signature(data, sig, [signer.public_key])
    if problems:
        return None
    doc: dict[str, Any] = json.loads(data)
    return doc


def commit_version(table: Table, layout: TableLayout, signer: Signer, *, base: int | None,
                   operation: str, meta: dict[str, Any],
                   do_commit: Callable[[dict[str, Any]], None],
                   known_digests: dict[str, str] | None = None) -> CommittedVersion:
    """Steps 1–3: ``do_commit(custom_metadata)`` makes the Delta commit on top of version
    ``base`` (``None``: it creates the table); the result is the signed new version."""
    txn = new_txn()
    write_intent(table, signer, txn, base, operation, meta)
    try:
        do_commit({TXN_KEY: txn, OPERATION_KEY: operation})
    except BaseException:
        drop_intent(table, txn)
        raise
    version = 0 if base is None else base + 1
    info = table.commit_info(version)
    if info.get(TXN_KEY) != txn:
        raise PublishError("the Delta commit landed at an unexpected version",
                           {"table": table.display(), "version": version},
                           "run `hrss-hub verify` on the table")
    result = write_manifest(table, layout, signer, version, operation, meta,
                            known_digests or {})
    drop_intent(table, txn)
    return result


def write_manifest(table: Table, layout: TableLayout, signer: Signer, version: int,
                   operation: str, meta: dict[str, Any],
                   known_digests: dict[str, str]) -> CommittedVersion:
    """Step 3: the signed manifest of ``version`` (digests of files not yet known from
    the previous manifest or ``known_digests`` are computed here)."""
    suite = signer.suite
    dt = table.open(version)
    files = table.active_files(dt)
    previous = _previous(table, version)
    digests = dict(known_digests)
    if previous is not None and previous[0].get("digest_algorithm") == digest_name(suite):
        for f in previous[0].get("files", []):
            digests.setdefault(str(f["path"]), str(f["digest"]))
    files = [DataFile(f.path, f.size, f.rows, f.partition,
                      digests.get(f.path) or table.digest_file(f.path, suite)) for f in files]
    commit = table.commit_bytes(version)
    metadata = dt.metadata()
    schema = layout.schema
    doc: dict[str, Any] = {
        "format": FORMAT,
        "dataset": layout.name,
        "version": version,
        "operation": operation,
        "previous": None if previous is None else {
            "version": previous[1], "manifest_digest": digest_bytes(suite, previous[2])},
        "table_id": metadata.id,
        "commit": {"path": table.commit_path(version), "size": len(commit),
                   "digest": digest_bytes(suite, commit)},
        "signature_suite": suite,
        "digest_algorithm": digest_name(suite),
        "signer_key_id": signer.key_id,
        "partition_columns": list(metadata.partition_columns),
        "rows": sum(max(f.rows, 0) for f in files),
        "files": [f.to_json() for f in files],
        "schema": schema_json(schema),
        "schema_fingerprint": schema_fingerprint(schema),
        "key": list(layout.key),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    data = canonical_bytes(doc)
    # signature first, manifest last, each replaced atomically: a version's manifest
    # exists only complete and signed (a kill in between leaves it unsigned: recovered)
    table.hub.replace_atomic(signature_rel(version), signer.sign(data))
    table.hub.replace_atomic(manifest_rel(version), data)
    return CommittedVersion(layout.name, version, int(doc["rows"]), doc, sha256_bytes(data),
                            table.hub.display(manifest_rel(version)))


def _previous(table: Table, version: int) -> tuple[dict[str, Any], int, bytes] | None:
    earlier = [v for v in manifest_versions(table) if v < version]
    if not earlier:
        return None
    doc, raw = read_manifest(table, earlier[-1])
    return doc, earlier[-1], raw


def recover(table: Table, layout: TableLayout, signer: Signer) -> list[CommittedVersion]:
    """Give manifests to log versions this hub committed before a crash; refuse any
    other unsigned log version (see the module docstring)."""
    signed = set(manifest_versions(table))
    out: list[CommittedVersion] = []
    for version in table.log_versions():
        if version in signed:
            continue
        info = table.commit_info(version)
        txn = info.get(TXN_KEY)
        intent = _read_intent(table, str(txn), signer) if txn else None
        base = intent.get("base_version") if intent else None
        # a publish makes one commit on its base; vacuum makes two (START, END)
        expected = (version - 1 if version else None)
        if intent is None or not (base == expected or (
                intent.get("operation") == "vacuum" and isinstance(base, int)
                and base < version)):
            raise PublishError(
                "a Delta log version was not written by this hub (no signed intent matches)",
                {"table": table.display(), "version": version,
                 "operation": str(info.get("operation"))},
                "do not publish on top of it: inspect with `hrss-hub exchange history` and "
                "`hrss-hub verify`, then restore the table from a verified version")
        out.append(write_manifest(table, layout, signer, version, str(intent["operation"]),
                                  dict(intent["meta"]), {}))
        drop_intent(table, str(txn))
        signed.add(version)
    return out


def sweep_intents(table: Table, older_than_hours: float = 1.0) -> int:
    """Delete intents whose commit never happened (their txn is in no recent log entry)
    and that are older than ``older_than_hours`` — a younger one may belong to a
    publisher that is committing right now."""
    now = datetime.now(UTC)
    stale: list[str] = []
    used: set[str] | None = None
    for name in table.hub.listdir(INTENTS):
        txn, _, ext = name.partition(".")
        if ext != "json" or not txn:
            continue
        try:
            doc = json.loads(table.hub.read_bytes(f"{INTENTS}/{name}"))
            age = (now - datetime.fromisoformat(str(doc["created_at"]))).total_seconds()
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            continue
        if age < older_than_hours * 3600:
            continue
        if used is None:
            used = set()
            for version in table.log_versions()[-50:]:
                try:
                    found = table.commit_info(version).get(TXN_KEY)
                except (HubError, OSError, ValueError):
                    continue
                if found:
                    used.add(str(found))
        if txn not in used:
            stale.append(txn)
    for txn in stale:
        drop_intent(table, txn)
    return len(stale)

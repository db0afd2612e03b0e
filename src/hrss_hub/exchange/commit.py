"""Committing an immutable dataset version: files, then manifest, then the pointer.

The order is the whole protocol (as in Iceberg/Delta: data first, one atomic metadata
swap last):

1. remove debris of an earlier crash: version folders above the current pointer;
2. write the Parquet parts of ``v<N>/`` (each hashed while written);
3. write ``v<N>/_manifest.json`` and its detached signature ``v<N>/_manifest.sig``;
4. replace ``CURRENT`` atomically with a pointer to ``v<N>`` and the manifest's SHA-256;
5. prune versions older than the last ``keep`` ones.

A reader resolves ``CURRENT`` first, so until step 4 it sees the previous version and
after it the complete new one. Killed before step 4, the next commit clears ``v<N>/``
and writes it again; killed after it, the version is complete and pruning simply
happens on the next commit. The same code publishes hub datasets and recipient outboxes.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from hrss_hub.errors import PublishError
from hrss_hub.exchange.manifest import (
    FORMAT,
    MANIFEST,
    POINTER,
    SIGNATURE,
    Pointer,
    canonical_bytes,
    parse_manifest,
    parse_version_dir,
    schema_json,
    sha256_bytes,
    version_dir,
)
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.staging import schema_fingerprint
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.writer import write_parts


@dataclass(frozen=True)
class CommittedVersion:
    """A version that ``CURRENT`` now points to."""

    dataset: str
    version: int
    rows: int
    manifest: dict[str, Any]
    manifest_sha256: str
    manifest_path: str  # display location (local path or URI)


def read_pointer(store: Store, dataset: str) -> Pointer | None:
    """The current pointer of ``dataset`` in ``store`` (``None`` before the first version)."""
    rel = f"{dataset}/{POINTER}"
    try:
        data = store.read_bytes(rel)
    except FileNotFoundError:
        return None
    return Pointer.parse(data, store.display(rel))


def read_manifest(store: Store, dataset: str, version: int) -> tuple[dict[str, Any], bytes]:
    """The parsed manifest of a version and its raw bytes."""
    rel = f"{dataset}/{version_dir(version)}/{MANIFEST}"
    try:
        data = store.read_bytes(rel)
    except FileNotFoundError:
        raise PublishError("dataset version not found", {"path": store.display(rel)},
                           "list versions with: hrss-hub catalog") from None
    return parse_manifest(data, store.display(rel)), data


def current_version(store: Store, dataset: str) -> CommittedVersion | None:
    """The version ``CURRENT`` points to (``None`` before the first one)."""
    pointer = read_pointer(store, dataset)
    if pointer is None:
        return None
    manifest, _ = read_manifest(store, dataset, pointer.version)
    return CommittedVersion(dataset, pointer.version, int(manifest["rows"]), manifest,
                            pointer.manifest_sha256,
                            store.display(f"{dataset}/{version_dir(pointer.version)}/{MANIFEST}"))


def committed_versions(store: Store, dataset: str) -> list[int]:
    """Version numbers that are committed: present, with a manifest, not above CURRENT."""
    pointer = read_pointer(store, dataset)
    if pointer is None:
        return []
    out = []
    for name in store.listdir(dataset):
        n = parse_version_dir(name)
        if n is not None and n <= pointer.version and store.exists(
                f"{dataset}/{name}/{MANIFEST}"):
            out.append(n)
    return sorted(out)


@contextmanager
def publish_lock(store: Store, dataset: str) -> Iterator[None]:
    """One publisher per dataset at a time (local stores: an advisory ``flock``).

    On object storage the caller must ensure a single publisher per dataset (one hub
    owns its exchange root); S3 offers no lock that pyarrow can use.
    """
    if not store.is_local:
        yield
        return
    path = Path(store.path(f"{dataset}/.lock"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def commit_version(store: Store, dataset: str, table: pa.Table, meta: dict[str, Any],
                   signer: Signer, *, keep: int = 10) -> CommittedVersion:
    """Write ``table`` as the next version of ``dataset`` and make it current.

    ``table`` must already be in output order; ``meta`` adds manifest sections
    (standard version, key, lineage, quality, publisher, recipient …). Call under
    :func:`publish_lock`.
    """
    pointer = read_pointer(store, dataset)
    previous = None if pointer is None else {"version": pointer.version,
                                             "manifest_sha256": pointer.manifest_sha256}
    number = 1 if pointer is None else pointer.version + 1
    _clear_uncommitted(store, dataset, 0 if pointer is None else pointer.version)
    folder = f"{dataset}/{version_dir(number)}"
    files = write_parts(store, folder, table)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "dataset": dataset,
        "version": number,
        "previous": previous,
        "rows": table.num_rows,
        "schema_fingerprint": schema_fingerprint(table.schema),
        "schema": schema_json(table.schema),
        "files": [f.to_json() for f in files],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    data = canonical_bytes(manifest)
    store.write_bytes(f"{folder}/{MANIFEST}", data)
    store.write_bytes(f"{folder}/{SIGNATURE}", signer.sign(data))
    store.sync_dir(folder)
    digest = sha256_bytes(data)
    store.replace_atomic(f"{dataset}/{POINTER}", Pointer(dataset, number, digest).to_bytes())
    prune(store, dataset, keep)
    return CommittedVersion(dataset, number, table.num_rows, manifest, digest,
                            store.display(f"{folder}/{MANIFEST}"))


def _clear_uncommitted(store: Store, dataset: str, current: int) -> None:
    """Remove version folders above the pointer: leftovers of a killed publish."""
    for name in store.listdir(dataset):
        n = parse_version_dir(name)
        if n is not None and n > current:
            store.delete_dir(f"{dataset}/{name}")


def prune(store: Store, dataset: str, keep: int) -> list[int]:
    """Delete committed versions older than the newest ``keep``; return those deleted."""
    versions = committed_versions(store, dataset)
    doomed = versions[:-keep] if keep > 0 and len(versions) > keep else []
    for n in doomed:
        store.delete_dir(f"{dataset}/{version_dir(n)}")
    return doomed

"""Verifying a dataset version: signature, pointer, checksums, sizes, schema, row counts.

Every byte a reader relies on is covered: the manifest by its Ed25519 signature (and by
the pointer's SHA-256 when the version is current), each Parquet part by the manifest's
SHA-256 and size, the signature document by the signature itself (any change to its key,
key id or value makes it fail). An extra Parquet file in a version folder is reported
too, so nobody can slip rows in next to a signed version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hrss_hub.errors import HubError
from hrss_hub.exchange.commit import read_pointer
from hrss_hub.exchange.manifest import (
    MANIFEST,
    POINTER,
    SIGNATURE,
    parse_manifest,
    parse_version_dir,
    sha256_bytes,
    version_dir,
)
from hrss_hub.exchange.signing import verify_signature
from hrss_hub.exchange.staging import schema_fingerprint
from hrss_hub.exchange.storage import Store


@dataclass
class VersionReport:
    """Outcome of verifying one version."""

    location: str
    dataset: str = ""
    version: int = 0
    rows: int = 0
    files: int = 0
    key_id: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``hrss-hub verify --json``."""
        return {"location": self.location, "dataset": self.dataset, "version": self.version,
                "rows": self.rows, "files": self.files, "signer_key_id": self.key_id,
                "ok": self.ok, "problems": self.problems}


def verify_version(store: Store, dataset: str, version: int, *,
                   trusted: list[Ed25519PublicKey] | None = None,
                   expected_sha256: str | None = None, deep: bool = True) -> VersionReport:
    """Verify ``<dataset>/v<version>/`` in ``store``.

    ``expected_sha256`` is the pointer's manifest hash; ``deep`` also hashes every file
    and checks its Parquet footer (schema fingerprint and row count).
    """
    folder = f"{dataset}/{version_dir(version)}"
    report = VersionReport(store.display(folder), dataset, version)
    try:
        raw = store.read_bytes(f"{folder}/{MANIFEST}")
    except FileNotFoundError:
        report.problems.append("_manifest.json is missing")
        return report
    try:
        sig = store.read_bytes(f"{folder}/{SIGNATURE}")
    except FileNotFoundError:
        report.problems.append("_manifest.sig is missing (unsigned manifest)")
        sig = b""
    if sig:
        problems, report.key_id = verify_signature(raw, sig, trusted)
        report.problems.extend(problems)
    if expected_sha256 is not None and sha256_bytes(raw) != expected_sha256:
        report.problems.append("manifest does not match the SHA-256 in CURRENT")
    try:
        manifest = parse_manifest(raw, store.display(f"{folder}/{MANIFEST}"))
    except HubError as exc:
        report.problems.append(exc.message)
        return report
    if manifest.get("dataset") != dataset or manifest.get("version") != version:
        report.problems.append(
            f"manifest names {manifest.get('dataset')} v{manifest.get('version')}, "
            f"found at {dataset} v{version}")
    try:
        _check_files(store, folder, manifest, report, deep)
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"manifest is malformed ({type(exc).__name__}: {exc})")
    return report


def _check_files(store: Store, folder: str, manifest: dict[str, Any], report: VersionReport,
                 deep: bool) -> None:
    report.rows = int(manifest["rows"])
    files = manifest["files"]
    report.files = len(files)
    listed = {str(f["path"]) for f in files}
    extra = [n for n in store.listdir(folder)
             if n not in listed and n not in (MANIFEST, SIGNATURE)]
    if extra:
        report.problems.append(f"files not in the manifest: {', '.join(sorted(extra))}")
    if sum(int(f["rows"]) for f in files) != report.rows:
        report.problems.append("manifest row count is not the sum of its files")
    for entry in files:
        _check_file(store, folder, entry, manifest, report, deep)


def _check_file(store: Store, folder: str, entry: dict[str, Any], manifest: dict[str, Any],
                report: VersionReport, deep: bool) -> None:
    rel = f"{folder}/{entry['path']}"
    name = str(entry["path"])
    if not store.exists(rel):
        report.problems.append(f"{name}: missing")
        return
    if store.size(rel) != int(entry["size"]):
        report.problems.append(f"{name}: size {store.size(rel)} != {entry['size']}")
        return
    if not deep:
        return
    if store.sha256(rel) != entry["sha256"]:
        report.problems.append(f"{name}: SHA-256 does not match the manifest (file changed)")
        return
    try:
        with store.fs.open_input_file(store.path(rel)) as fh:
            meta = pq.ParquetFile(fh).metadata
            schema = meta.schema.to_arrow_schema()
            rows = meta.num_rows
    except Exception as exc:  # noqa: BLE001 - any unreadable footer is a verification failure
        report.problems.append(f"{name}: not a readable Parquet file ({type(exc).__name__})")
        return
    if rows != int(entry["rows"]):
        report.problems.append(f"{name}: {rows} rows, manifest says {entry['rows']}")
    if schema_fingerprint(schema) != manifest.get("schema_fingerprint"):
        report.problems.append(f"{name}: schema differs from the manifest's fingerprint")


def verify_path(path: str | Path, *, trusted: list[Ed25519PublicKey] | None = None,
                all_versions: bool = False) -> list[VersionReport]:
    """Verify whatever ``path`` is: a version folder, a dataset folder (its current version,
    or every kept one), or a root holding datasets (an exchange or an outbox)."""
    text = str(path).rstrip("/")
    store = Store.open(text)
    if store.exists(MANIFEST):
        parent, _, name = text.rpartition("/")
        number = parse_version_dir(name)
        dataset = parent.rpartition("/")[2]
        if number is None:
            return [VersionReport(text, problems=["a version folder must be named v<N>"])]
        up = Store.open(parent.rpartition("/")[0] or "/")
        pointer = read_pointer(up, dataset)
        expected = pointer.manifest_sha256 if pointer and pointer.version == number else None
        return [verify_version(up, dataset, number, trusted=trusted, expected_sha256=expected)]
    if store.exists(POINTER):
        parent, _, dataset = text.rpartition("/")
        return _verify_dataset(Store.open(parent or "/"), dataset, trusted, all_versions)
    reports: list[VersionReport] = []
    for name in store.listdir():
        if store.exists(f"{name}/{POINTER}"):
            reports.extend(_verify_dataset(store, name, trusted, all_versions))
        elif store.is_dir(name) and not name.startswith("."):
            # an outbox root holds one folder per recipient, each holding datasets
            sub = store.sub(name)
            for inner in sub.listdir():
                if sub.exists(f"{inner}/{POINTER}"):
                    reports.extend(_verify_dataset(sub, inner, trusted, all_versions))
    if not reports:
        return [VersionReport(text, problems=["no dataset found (no CURRENT or _manifest.json)"])]
    return reports


def _verify_dataset(store: Store, dataset: str, trusted: list[Ed25519PublicKey] | None,
                    all_versions: bool) -> list[VersionReport]:
    try:
        pointer = read_pointer(store, dataset)
    except HubError as exc:
        return [VersionReport(store.display(dataset), dataset, problems=[exc.message])]
    assert pointer is not None
    if pointer.dataset != dataset:
        return [VersionReport(store.display(dataset), dataset,
                              problems=[f"CURRENT names dataset {pointer.dataset!r}"])]
    if not all_versions:
        return [verify_version(store, dataset, pointer.version, trusted=trusted,
                               expected_sha256=pointer.manifest_sha256)]
    reports = []
    for name in store.listdir(dataset):
        n = parse_version_dir(name)
        if n is None or n > pointer.version:
            continue
        expected = pointer.manifest_sha256 if n == pointer.version else None
        reports.append(verify_version(store, dataset, n, trusted=trusted,
                                      expected_sha256=expected))
    return reports

"""Verifying Delta tables against the hub's signed manifests.

For a version N the checks are, in order:

- the manifest ``_hrss/manifests/N.json`` exists, its signature (either suite) is valid,
  and — when keys are pinned — made by a pinned publisher key;
- it names this table and version, and the previous manifest's digest matches (the chain);
- the commit file ``_delta_log/N.json`` has the digest the manifest signed (an edited
  log entry fails here);
- the snapshot delta-rs derives from the log (checkpoints included) holds exactly the
  manifest's files — same paths, sizes, partitions, row counts (a file added, removed or
  swapped in the log fails here);
- ``deep``: every data file exists with its size and the digest the manifest signed (a
  flipped byte fails); without ``deep`` (the hub's readers) the store is not listed, so
  a read costs the log and the manifest, not a request per file.

For a whole table, every commit in the log must have a manifest: a log entry without one
was written outside the hub (or is the moment of a crash, which the next publish
completes — either way it is not signed data). Every version of a table must be signed
by the same key as its first one unless keys are pinned explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hrss_hub.errors import HubError
from hrss_hub.exchange.commit import manifest_versions
from hrss_hub.exchange.layout import HUB_DIR
from hrss_hub.exchange.manifest import manifest_rel, parse_manifest, signature_rel
from hrss_hub.exchange.signing import verify_signature
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.suites import PublicKey, digest_bytes
from hrss_hub.exchange.tables import Table


@dataclass
class VersionReport:
    """Outcome of verifying one version (or a table-level problem)."""

    location: str
    dataset: str = ""
    version: int = 0
    rows: int = 0
    files: int = 0
    key_id: str = ""
    suite: str = ""
    operation: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``hrss-hub verify --json``."""
        return {"location": self.location, "dataset": self.dataset, "version": self.version,
                "rows": self.rows, "files": self.files, "signer_key_id": self.key_id,
                "signature_suite": self.suite, "operation": self.operation,
                "ok": self.ok, "problems": self.problems}


def verify_version(table: Table, version: int, *, trusted: list[PublicKey] | None = None,
                   deep: bool = True) -> VersionReport:
    """Verify version ``version`` of ``table`` (see the module docstring)."""
    report = VersionReport(table.display(), table.name, version)
    try:
        raw = table.hub.read_bytes(manifest_rel(version))
    except FileNotFoundError:
        report.problems.append(f"no signed hub manifest for Delta version {version} "
                               "(a log entry written outside the hub)")
        return report
    try:
        sig = table.hub.read_bytes(signature_rel(version))
    except FileNotFoundError:
        report.problems.append("the manifest's signature is missing (unsigned manifest)")
        sig = b""
    if sig:
        problems, report.key_id = verify_signature(raw, sig, trusted)
        report.problems.extend(problems)
    try:
        manifest = parse_manifest(raw, table.hub.display(manifest_rel(version)))
    except HubError as exc:
        report.problems.append(exc.message)
        return report
    report.suite = str(manifest.get("signature_suite", ""))
    report.operation = str(manifest.get("operation", ""))
    if manifest.get("dataset") != table.name or manifest.get("version") != version:
        report.problems.append(
            f"manifest names {manifest.get('dataset')} v{manifest.get('version')}, "
            f"found at {table.name} v{version}")
    try:
        _check_chain(table, manifest, report)
        _check_commit(table, version, manifest, report)
        _check_files(table, version, manifest, report, deep)
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"manifest is malformed ({type(exc).__name__}: {exc})")
    return report


def _check_chain(table: Table, manifest: dict[str, Any], report: VersionReport) -> None:
    prev = manifest.get("previous")
    if prev is None:
        if report.version != 0 and manifest_versions(table)[:1] != [report.version]:
            report.problems.append("manifest has no previous version but is not the first")
        return
    try:
        data = table.hub.read_bytes(manifest_rel(int(prev["version"])))
    except FileNotFoundError:
        return  # the previous version expired (retention): the chain starts here
    if digest_bytes(report.suite, data) != prev["manifest_digest"]:
        report.problems.append(f"the manifest of version {prev['version']} was replaced "
                               "(its digest differs from the one this manifest signed)")


def _check_commit(table: Table, version: int, manifest: dict[str, Any],
                  report: VersionReport) -> None:
    commit = manifest["commit"]
    try:
        data = table.files.read_bytes(str(commit["path"]))
    except FileNotFoundError:
        report.problems.append(f"the Delta log entry {commit['path']} is missing")
        return
    if len(data) != int(commit["size"]) or digest_bytes(report.suite, data) != commit["digest"]:
        report.problems.append(f"the Delta log entry {commit['path']} was changed after "
                               "the hub signed it")


def _check_files(table: Table, version: int, manifest: dict[str, Any],
                 report: VersionReport, deep: bool) -> None:
    listed = {str(f["path"]): f for f in manifest["files"]}
    report.files = len(listed)
    report.rows = int(manifest["rows"])
    if sum(int(f["rows"]) for f in listed.values()) != report.rows:
        report.problems.append("manifest row count is not the sum of its files")
    try:
        dt = table.open(version)
        active = {f.path: f for f in table.active_files(dt)}
    except HubError as exc:
        report.problems.append(f"the Delta log cannot be read at this version: {exc.message}")
        return
    for path in sorted(set(active) - set(listed)):
        report.problems.append(f"{path}: in the Delta log but not in the signed manifest "
                               "(file added)")
    for path in sorted(set(listed) - set(active)):
        report.problems.append(f"{path}: in the signed manifest but not in the Delta log "
                               "(file removed)")
    for path in sorted(set(listed) & set(active)):
        entry, f = listed[path], active[path]
        if f.size != int(entry["size"]) or (f.rows >= 0 and f.rows != int(entry["rows"])) \
                or dict(sorted(f.partition.items())) != entry["partition"]:
            report.problems.append(f"{path}: size, rows or partition differ from the "
                                   "signed manifest (file swapped)")
            continue
        if not deep:
            continue  # the log's sizes matched; reading the store is the deep check's job
        rel = _unquote(path)
        if not table.files.exists(rel):
            report.problems.append(f"{path}: missing")
            continue
        if table.files.size(rel) != int(entry["size"]):
            report.problems.append(f"{path}: size {table.files.size(rel)} != {entry['size']}")
            continue
        if table.digest_file(path, report.suite) != entry["digest"]:
            report.problems.append(f"{path}: digest does not match the manifest (file changed)")


def verify_table(table: Table, *, trusted: list[PublicKey] | None = None,
                 all_versions: bool = False, deep: bool = True) -> list[VersionReport]:
    """Verify a table: its current version (or every signed one) and its whole log."""
    signed = manifest_versions(table)
    log = table.log_versions()
    if not signed and not log:
        return [VersionReport(table.display(), table.name,
                              problems=["not a Delta table (no _delta_log)"])]
    reports: list[VersionReport] = []
    unsigned = [v for v in log if v not in signed]
    if unsigned:
        reports.append(VersionReport(table.display(), table.name, unsigned[-1], problems=[
            f"Delta log version(s) {', '.join(map(str, unsigned))} have no signed hub "
            "manifest: written outside the hub"]))
    missing = [v for v in signed if log and v > log[0] and v not in log]
    if missing:
        reports.append(VersionReport(table.display(), table.name, missing[0], problems=[
            f"signed version(s) {', '.join(map(str, missing))} are missing from the Delta "
            "log (log entries removed)"]))
    horizon = _vacuum_horizon(table, signed)
    wanted = ([v for v in signed if (v in log or not log) and v >= horizon] if all_versions
              else signed[-1:])
    signers: set[str] = set()
    for v in wanted:
        r = verify_version(table, v, trusted=trusted, deep=deep)
        if r.key_id:
            signers.add(r.key_id)
        reports.append(r)
    if trusted is None and signed:
        first = verify_version(table, signed[0], deep=False).key_id
        changed = {k for k in signers if k != first}
        if first and changed:
            reports[-1].problems.append(
                f"signed by key {', '.join(sorted(changed))}, but the table's first version "
                f"by {first}: re-signed data (pin the publisher key with --trusted-key)")
    return reports


def _vacuum_horizon(table: Table, signed: list[int]) -> int:
    """The oldest version the newest vacuum kept readable (0 before any vacuum): older
    versions' files may be gone by design, so ``--all-versions`` starts there."""
    from hrss_hub.exchange.commit import read_manifest

    for v in reversed(signed):
        try:
            doc, _ = read_manifest(table, v)
        except HubError:
            continue
        if doc.get("operation") == "vacuum":
            kept = (doc.get("maintenance") or {}).get("keep_versions") or [v]
            return int(min(kept))
    return 0


def find_tables(store: Store) -> list[Table]:
    """Tables at ``store``: the store itself, its children (an exchange root) or its
    grandchildren (an outbox root: one folder per recipient)."""
    if store.exists("_delta_log") or store.exists(HUB_DIR):
        parent, _, name = store.base.rpartition("/")
        return [Table(Store(store.fs, parent, store.uri.rpartition("/")[0], store.options),
                      name)]
    out: list[Table] = []
    for name in store.listdir():
        if name.startswith((".", "_")):
            continue
        if store.exists(f"{name}/_delta_log") or store.exists(f"{name}/{HUB_DIR}"):
            out.append(Table(store, name))
        elif store.is_dir(name):
            sub = store.sub(name)
            out.extend(Table(sub, inner) for inner in sub.listdir()
                       if not inner.startswith((".", "_"))
                       and (sub.exists(f"{inner}/_delta_log") or sub.exists(f"{inner}/{HUB_DIR}")))
    return out


def verify_path(path: str | Path | Store, *, trusted: list[PublicKey] | None = None,
                all_versions: bool = False, deep: bool = True) -> list[VersionReport]:
    """Verify whatever ``path`` is: a table, an exchange root holding tables, or an
    outbox root holding one folder of tables per recipient. An ``s3://`` URI keeps its
    ``endpoint_override`` / ``scheme`` / ``region`` for every table below it."""
    store = Store.open(path)
    tables = find_tables(store)
    if not tables:
        return [VersionReport(store.display(), problems=[
            "no Delta table found (no _delta_log or _hrss folder)"])]
    reports: list[VersionReport] = []
    for table in tables:
        reports.extend(verify_table(table, trusted=trusted, all_versions=all_versions,
                                    deep=deep))
    return reports


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)

"""Table maintenance: compaction, retention (vacuum) and history — each signed too.

**Retention and its grace period.** Publishing never deletes a data file: a MERGE marks
the files it rewrote as removed, and they stay readable for time travel, for the Change
Data Feed the outboxes and upper levels follow, and for any reader still reading the
version it opened. ``hrss-hub exchange vacuum`` deletes a removed file only when

- it was removed more than ``retention_hours`` ago (the grace period, ``retention_hours``
  in ``hub.yaml``, default 168 h = 7 days, also written into every table's
  ``delta.deletedFileRetentionDuration``), **and**
- no version among the newest ``keep_versions`` (``hub.yaml``, default 10) uses it.

So a recipient who opened any version that was current less than ``retention_hours``
ago, or any of the last ``keep_versions`` versions, can always finish reading it; older
versions become unreadable (their manifests stay, marked so in the catalog). A grace
period below one hour is refused. Vacuum's own Delta commits (``VACUUM START`` / ``END``)
and compaction's (``OPTIMIZE``: no data change, small files merged into ~128 MB ones)
get signed manifests like every other version, so ``verify`` accepts them and nothing
else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hrss_hub.errors import ConfigError
from hrss_hub.exchange.commit import (
    TXN_KEY,
    CommittedVersion,
    commit_version,
    drop_intent,
    latest_signed,
    manifest_versions,
    new_txn,
    read_manifest,
    recover,
    write_intent,
    write_manifest,
)
from hrss_hub.exchange.layout import layout_from_manifest
from hrss_hub.exchange.publish import publish_lock
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.tables import MERGE_SPILL_BYTES, Table, commit_guard

#: compaction target: files of about this size (bytes)
TARGET_FILE_BYTES = 128 * 1024 * 1024
MIN_RETENTION_HOURS = 1


class _NothingToDo(Exception):
    """Compaction found nothing to merge (and committed nothing)."""


@dataclass(frozen=True)
class MaintenanceResult:
    """What one maintenance command did to one table."""

    table: str
    action: str
    versions: list[int]
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"table": self.table, "action": self.action, "versions": self.versions,
                **self.details}


def _meta(current: CommittedVersion, action: str, details: dict[str, Any]) -> dict[str, Any]:
    keep = ("kind", "standard_version", "publisher", "recipient", "direction", "policy",
            "source", "quality", "lineage")
    return {**{k: current.manifest[k] for k in keep if k in current.manifest},
            "maintenance": {"action": action, **details}}


def optimize(table: Table, signer: Signer,
             target_bytes: int = TARGET_FILE_BYTES) -> MaintenanceResult:
    """Compact small files (one signed ``optimize`` version; none if nothing to do)."""
    from deltalake import CommitProperties

    with publish_lock(table.store, table.name):
        current = _current(table, signer)
        layout = layout_from_manifest(table.name, current.manifest)
        dt = table.open()
        base = int(dt.version())
        metrics: dict[str, Any] = {}

        def compact(custom: dict[str, Any]) -> None:
            with commit_guard(table):
                metrics.update(dt.optimize.compact(
                    target_size=target_bytes, max_spill_size=MERGE_SPILL_BYTES,
                    commit_properties=CommitProperties(custom_metadata=custom,
                                                       max_commit_retries=0)))
            if not metrics.get("numFilesAdded") and not metrics.get("numFilesRemoved"):
                raise _NothingToDo  # delta-rs made no commit

        preview = table.active_files(dt)
        if len(preview) <= 1:
            return MaintenanceResult(table.name, "optimize", [], {"files": len(preview)})
        try:
            done = commit_version(table, layout, signer, base=base, operation="optimize",
                                  meta=_meta(current, "optimize", {}), do_commit=compact)
        except _NothingToDo:
            return MaintenanceResult(table.name, "optimize", [], {"files": len(preview)})
        return MaintenanceResult(table.name, "optimize", [done.version], {
            "files_added": metrics.get("numFilesAdded"),
            "files_removed": metrics.get("numFilesRemoved")})


def vacuum(table: Table, signer: Signer, *, retention_hours: int, keep_versions: int,
           dry_run: bool = False) -> MaintenanceResult:
    """Delete data files outside the grace period and the kept versions (module
    docstring); its Delta commits are signed."""
    from deltalake import CommitProperties

    if retention_hours < MIN_RETENTION_HOURS:
        raise ConfigError(f"retention_hours must be at least {MIN_RETENTION_HOURS}",
                          {"retention_hours": retention_hours},
                          "a shorter grace period could delete files a reader is reading")
    with publish_lock(table.store, table.name):
        current = _current(table, signer)
        layout = layout_from_manifest(table.name, current.manifest)
        dt = table.open()
        base = int(dt.version())
        log = table.log_versions()
        keep = [v for v in log if v >= max(0, base - max(keep_versions, 1) + 1)]
        if dry_run:
            files = dt.vacuum(retention_hours=retention_hours, dry_run=True,
                              enforce_retention_duration=False, keep_versions=keep)
            return MaintenanceResult(table.name, "vacuum", [], {
                "would_delete": len(files), "dry_run": True})
        txn = new_txn()
        details = {"retention_hours": retention_hours, "keep_versions": keep}
        meta = _meta(current, "vacuum", details)
        write_intent(table, signer, txn, base, "vacuum", meta)
        try:
            with commit_guard(table):
                files = dt.vacuum(retention_hours=retention_hours, dry_run=False,
                                  enforce_retention_duration=False, keep_versions=keep,
                                  commit_properties=CommitProperties(
                                      custom_metadata={TXN_KEY: txn}, max_commit_retries=0))
        except BaseException:
            if table.log_versions()[-1:] == [base]:
                drop_intent(table, txn)
            raise
        new = [v for v in table.log_versions() if v > base]
        for v in new:
            if table.commit_info(v).get(TXN_KEY) == txn:
                write_manifest(table, layout, signer, v, "vacuum",
                               {**meta, "maintenance": {**details, "deleted_files": len(files)}},
                               {})
        drop_intent(table, txn)
        return MaintenanceResult(table.name, "vacuum", new, {"deleted_files": len(files),
                                                             **details})


def history(table: Table, limit: int | None = None) -> list[dict[str, Any]]:
    """Every log version (newest first): operation, time, whether the hub signed it,
    rows and signer, and signed versions whose log entry is gone (expired)."""
    signed = set(manifest_versions(table))
    out = []
    log = table.log_versions()
    for version in reversed(log):
        info = table.commit_info(version)
        entry: dict[str, Any] = {"version": version, "operation": info.get("operation"),
                                 "timestamp": info.get("timestamp"),
                                 "signed": version in signed}
        if version in signed:
            doc, _ = read_manifest(table, version)
            entry.update(rows=doc.get("rows"), hub_operation=doc.get("operation"),
                         signer=doc.get("signer_key_id"), suite=doc.get("signature_suite"),
                         created_at=doc.get("created_at"))
        out.append(entry)
        if limit is not None and len(out) >= limit:
            break
    return out


def _current(table: Table, signer: Signer) -> CommittedVersion:
    if not table.exists():
        raise ConfigError("not a Delta table", {"table": table.display()})
    current = latest_signed(table)
    if current is None:
        raise ConfigError("the table has no signed version", {"table": table.display()})
    recover(table, layout_from_manifest(table.name, current.manifest), signer)
    latest = latest_signed(table)
    assert latest is not None
    return latest

"""Reading one outbox Delta table the way the sharing protocol describes it.

Two sources, each used for what it is exact at:

- **snapshots** (the files of version N, with partition values and statistics) come from
  delta-rs (``DeltaTable(uri, version=N).get_add_actions()``), which replays checkpoints
  and JSON commits correctly;
- **history** (what one commit added, removed or wrote to ``_change_data/``, and its
  timestamp) comes from that commit's own ``_delta_log/<N>.json``, read raw, because the
  protocol's change feed is made of exactly those actions.

A table the hub signs (``_hrss/manifests/<N>.json`` beside the log) is served up to its
newest *signed* version only, like every hub reader, and the grant an outbox version was
cut with is read from the ``policy`` of its signed manifest.

A commit's timestamp is its ``commitInfo.timestamp`` — the value delta-rs itself reports
as ``_commit_timestamp`` in its change data feed — so time travel by timestamp here and
in delta-rs agree. Versions are immutable, so snapshots and commits are cached by
(table, version); only "which version is the latest" is looked up on every request (one
directory listing).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from hrss_hub.share.storage import OutboxRoot

_COMMIT_RE = re.compile(r"^(\d{20})\.json$")
#: where the hub keeps the signed manifest of each version of its tables
HUB_MANIFESTS = "_hrss/manifests"
JSONDict = dict[str, Any]


class TableHistoryError(ValueError):
    """A version or timestamp the table's log cannot answer (400 to the client)."""


@dataclass(frozen=True)
class FileAction:
    """One data file as the protocol lists it."""

    kind: str  # add | remove | cdc
    path: str  # as in the Delta log: relative to the table root, URI-encoded
    size: int
    partition_values: Mapping[str, str | None]
    stats: str | None = None
    modification_time: int | None = None
    data_change: bool = True
    version: int | None = None
    timestamp: int | None = None
    deletion_timestamp: int | None = None

    @property
    def file_path(self) -> str:
        """The path below the table root as stored (decoded once, like every Delta reader)."""
        return unquote(self.path)

    def num_records(self) -> int | None:
        """Rows in the file, from its statistics (``None`` without statistics)."""
        if self.stats is None:
            return None
        value = json.loads(self.stats).get("numRecords")
        return None if value is None else int(value)

    def delta_action(self, url: str) -> JSONDict:
        """The Delta log action of this file with its path replaced by ``url``."""
        if self.kind == "add":
            body: JSONDict = {"path": url, "partitionValues": dict(self.partition_values),
                              "size": self.size, "modificationTime": self.modification_time or 0,
                              "dataChange": self.data_change}
            if self.stats is not None:
                body["stats"] = self.stats
            return {"add": body}
        if self.kind == "remove":
            return {"remove": {"path": url, "partitionValues": dict(self.partition_values),
                               "size": self.size, "dataChange": self.data_change,
                               "deletionTimestamp": self.deletion_timestamp or self.timestamp,
                               "extendedFileMetadata": True}}
        return {"cdc": {"path": url, "partitionValues": dict(self.partition_values),
                        "size": self.size, "dataChange": False}}


@dataclass(frozen=True)
class TableMetadata:
    """The Delta ``protocol`` and ``metaData`` of a version."""

    id: str
    name: str | None
    description: str | None
    schema_string: str
    partition_columns: tuple[str, ...]
    configuration: Mapping[str, str]
    created_time: int | None
    min_reader_version: int
    min_writer_version: int
    reader_features: tuple[str, ...] | None = None
    writer_features: tuple[str, ...] | None = None

    @property
    def column_names(self) -> list[str]:
        """Top-level column names of the schema."""
        return [f["name"] for f in json.loads(self.schema_string)["fields"]]

    @property
    def change_data_feed(self) -> bool:
        """Whether the table records its changes (``delta.enableChangeDataFeed``)."""
        return str(self.configuration.get("delta.enableChangeDataFeed", "")).lower() == "true"


@dataclass(frozen=True)
class Snapshot:
    """The files of one version."""

    version: int
    timestamp: int
    metadata: TableMetadata
    files: tuple[FileAction, ...]

    @property
    def size(self) -> int:
        """Bytes of all data files."""
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Commit:
    """What one version's commit file says."""

    version: int
    timestamp: int
    actions: tuple[FileAction, ...]
    metadata_changed: bool = False
    raw_metadata: JSONDict | None = field(default=None, compare=False)
    #: the hub's record of the grant this version was cut with (``commitInfo`` key
    #: ``hrss.grant``, see :func:`hrss_hub.share.shares.grant_record`)
    grant: str | None = None


class DeltaTableReader:
    """Reads one table below an outbox root. Thread-safe; caches immutable versions."""

    def __init__(self, root: OutboxRoot, rel: str, cache_size: int = 64) -> None:
        self.root = root
        self.rel = rel.strip("/")
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        self._commits: OrderedDict[int, Commit] = OrderedDict()
        self._policies: dict[int, dict[str, Any] | None] = {}
        self._cache_size = cache_size

    # -- versions ------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether a Delta table (a log with at least one servable commit) is there."""
        return bool(self.commit_versions())

    def log_versions(self) -> list[int]:
        """Versions whose commit file is still in the log, ascending."""
        names = self.root.store.listdir(f"{self.rel}/_delta_log")
        return sorted(int(m.group(1)) for n in names if (m := _COMMIT_RE.match(n)))

    def signed_versions(self) -> set[int] | None:
        """Versions the hub signed a manifest for (``_hrss/manifests/<N>.json``), or
        ``None`` for a table the hub does not sign (no ``_hrss/manifests`` folder)."""
        if not self.root.store.is_dir(f"{self.rel}/{HUB_MANIFESTS}"):
            return None
        names = self.root.store.listdir(f"{self.rel}/{HUB_MANIFESTS}")
        return {int(m.group(1)) for n in names if (m := _COMMIT_RE.match(n))}

    def commit_versions(self) -> list[int]:
        """The versions the server serves, ascending: every log version — of a table the
        hub signs, only those with a signed manifest. A version committed but not (yet)
        signed is the hub's crash window or a write from outside the hub, and a reader of
        the hub never sees either."""
        log = self.log_versions()
        signed = self.signed_versions()
        return log if signed is None else [v for v in log if v in signed]

    def _servable(self, version: int) -> None:
        if version not in set(self.commit_versions()):
            if version in set(self.log_versions()):
                raise TableHistoryError(f"version {version} is not a signed version of the "
                                        "hub")
            raise TableHistoryError(f"version {version} does not exist (latest: "
                                    f"{self.latest_version()})")

    def manifest_policy(self, version: int) -> dict[str, Any] | None:
        """The ``policy`` the hub signed for ``version`` (an outbox's grant: columns with
        their actions, division prefixes), or ``None`` without a manifest."""
        signed = self.signed_versions()
        if not signed or version not in signed:
            return None
        with self._lock:
            if version in self._policies:
                return self._policies[version]
        try:
            doc = json.loads(self.root.store.read_bytes(
                f"{self.rel}/{HUB_MANIFESTS}/{version:020d}.json"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        policy = doc.get("policy") if isinstance(doc, dict) else None
        result = policy if isinstance(policy, dict) else None
        with self._lock:
            self._policies[version] = result
        return result

    def latest_version(self) -> int:
        """The newest committed version."""
        versions = self.commit_versions()
        if not versions:
            raise TableHistoryError("the table has no committed version yet")
        return versions[-1]

    def version_at_or_before(self, ts: datetime) -> int:
        """The newest version committed at or before ``ts`` (time travel by timestamp)."""
        ms = _ms(ts)
        found = [c.version for c in self._commits_of(self.commit_versions()) if c.timestamp <= ms]
        if not found:
            raise TableHistoryError(f"{_iso(ts)} is before the table's first kept version")
        return max(found)

    def version_at_or_after(self, ts: datetime, *, clamp_to_first: bool = False) -> int:
        """The oldest version committed at or after ``ts``; ``clamp_to_first``: a time
        before the first version means the first version."""
        ms = _ms(ts)
        commits = self._commits_of(self.commit_versions())
        found = [c.version for c in commits if c.timestamp >= ms]
        if not found:
            raise TableHistoryError(f"{_iso(ts)} is after the table's latest version")
        if not clamp_to_first and commits and ms < commits[0].timestamp and commits[0].version:
            raise TableHistoryError(f"{_iso(ts)} is before the table's first kept version")
        return min(found)

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self, version: int | None = None) -> Snapshot:
        """The files of ``version`` (default: the latest)."""
        if version is None:
            version = self.latest_version()
        with self._lock:
            cached = self._snapshots.get(version)
            if cached is not None:
                self._snapshots.move_to_end(version)
                return cached
        snap = self._load_snapshot(version)
        with self._lock:
            self._snapshots[version] = snap
            while len(self._snapshots) > self._cache_size:
                self._snapshots.popitem(last=False)
        return snap

    def _load_snapshot(self, version: int) -> Snapshot:
        from deltalake import DeltaTable

        self._servable(version)
        try:
            dt = DeltaTable(self.root.table_uri(self.rel), version=version,
                            storage_options=self.root.delta_storage_options() or None)
        except Exception as exc:  # delta-rs raises its own error types for a pruned log
            if "not" in str(exc).lower() and "version" in str(exc).lower():
                raise TableHistoryError(f"version {version} is no longer in the log") from None
            raise
        meta = dt.metadata()
        proto = dt.protocol()
        metadata = TableMetadata(
            id=str(meta.id), name=meta.name, description=meta.description,
            schema_string=dt.schema().to_json(),
            partition_columns=tuple(meta.partition_columns),
            configuration=dict(meta.configuration), created_time=meta.created_time,
            min_reader_version=proto.min_reader_version,
            min_writer_version=proto.min_writer_version,
            reader_features=None if proto.reader_features is None
            else tuple(proto.reader_features),
            writer_features=None if proto.writer_features is None
            else tuple(proto.writer_features))
        adds = pa.table(dt.get_add_actions(flatten=False))
        files = tuple(_add_from_row(row) for row in adds.to_pylist())
        return Snapshot(version, self.commit(version).timestamp, metadata,
                        tuple(sorted(files, key=lambda f: f.path)))

    # -- history -------------------------------------------------------------------------

    def commit(self, version: int) -> Commit:
        """The actions and timestamp of ``version``'s commit."""
        with self._lock:
            cached = self._commits.get(version)
            if cached is not None:
                return cached
        try:
            raw = self.root.store.read_bytes(f"{self.rel}/_delta_log/{version:020d}.json")
        except FileNotFoundError:
            raise TableHistoryError(
                f"version {version} is not in the table's log (never committed, or its "
                "history was cleaned up)") from None
        commit = _parse_commit(version, raw)
        with self._lock:
            self._commits[version] = commit
            while len(self._commits) > 4 * self._cache_size:
                self._commits.popitem(last=False)
        return commit

    def _commits_of(self, versions: Iterable[int]) -> list[Commit]:
        return [self.commit(v) for v in versions]

    def commits(self, start: int, end: int | None = None) -> list[Commit]:
        """The commits ``start``..``end`` (inclusive; default end: the latest)."""
        latest = self.latest_version()
        end = latest if end is None else end
        if start < 0:
            raise TableHistoryError(f"startingVersion must be ≥ 0, got {start}")
        if start > latest:
            raise TableHistoryError(f"startingVersion {start} is after the latest version "
                                    f"{latest}")
        if end < start:
            raise TableHistoryError(f"endingVersion {end} is before startingVersion {start}")
        versions = range(start, min(end, latest) + 1)
        for v in versions:
            self._servable(v)
        return self._commits_of(versions)

    def change_files(self, start: int, end: int | None = None) -> list[FileAction]:
        """The change data feed of versions ``start``..``end`` as files: a version that
        wrote ``_change_data/`` files is described by those alone; any other version by
        the files it added (inserts) and removed (deletes) — Delta's CDF rule."""
        out: list[FileAction] = []
        for commit in self.commits(start, end):
            cdc = [a for a in commit.actions if a.kind == "cdc"]
            if cdc:
                out.extend(cdc)
            else:
                out.extend(a for a in commit.actions if a.kind in ("add", "remove")
                           and a.data_change)
        return out


def _parse_commit(version: int, raw: bytes) -> Commit:
    timestamp: int | None = None
    grant: str | None = None
    actions: list[FileAction] = []
    metadata: JSONDict | None = None
    latest_file_time = 0
    for line in raw.decode("utf-8").splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        info = action.get("commitInfo")
        if isinstance(info, dict):
            if info.get("timestamp") is not None:
                timestamp = int(info["timestamp"])
            if isinstance(info.get("hrss.grant"), str):
                grant = info["hrss.grant"]
        elif "metaData" in action:
            metadata = action["metaData"]
        for kind in ("add", "remove", "cdc"):
            body = action.get(kind)
            if body is None:
                continue
            file_time = body.get("modificationTime") or body.get("deletionTimestamp") or 0
            latest_file_time = max(latest_file_time, int(file_time))
            actions.append(FileAction(
                kind=kind, path=body["path"], size=int(body.get("size") or 0),
                partition_values=dict(body.get("partitionValues") or {}),
                stats=body.get("stats"), modification_time=body.get("modificationTime"),
                data_change=bool(body.get("dataChange", kind != "cdc")), version=version,
                deletion_timestamp=body.get("deletionTimestamp")))
    # a commit without commitInfo (other writers may omit it): its newest file time
    ts = timestamp if timestamp is not None else latest_file_time
    stamped = tuple(FileAction(**{**a.__dict__, "timestamp": ts}) for a in actions)
    return Commit(version, ts, stamped, metadata is not None, metadata, grant)


def _add_from_row(row: Mapping[str, Any]) -> FileAction:
    partitions = row.get("partition") or row.get("partition_values") or {}
    return FileAction(
        kind="add", path=str(row["path"]), size=int(row["size_bytes"]),
        partition_values={k: None if v is None else _partition_text(v)
                          for k, v in partitions.items()},
        stats=_stats_json(row), modification_time=int(row["modification_time"]),
        data_change=True)


def _partition_text(value: Any) -> str:
    """A partition value in the protocol's serialization (see PROTOCOL.md)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _stats_json(row: Mapping[str, Any]) -> str | None:
    """The Delta statistics string of a file, rebuilt from delta-rs' parsed statistics."""
    if row.get("num_records") is None:
        return None
    stats: JSONDict = {"numRecords": int(row["num_records"])}
    for key, name in (("min", "minValues"), ("max", "maxValues"), ("null_count", "nullCount")):
        values = row.get(key)
        if values:
            encoded = _stats_values(values)
            if encoded:
                stats[name] = encoded
    return json.dumps(stats, separators=(",", ":"), ensure_ascii=False)


def _stats_values(values: Mapping[str, Any]) -> JSONDict:
    out: JSONDict = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            nested = _stats_values(value)
            if nested:
                out[name] = nested
        elif isinstance(value, datetime):
            stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
            out[name] = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
                f"{stamp.microsecond // 1000:03d}Z"
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, Decimal):
            out[name] = float(value)
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out


def _ms(ts: datetime) -> int:
    stamp = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def _iso(ts: datetime) -> str:
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def parse_timestamp(text: str, name: str) -> datetime:
    """A protocol timestamp (ISO 8601, UTC, e.g. ``2022-01-01T00:00:00Z``)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TableHistoryError(f"{name} {text!r} is not an ISO 8601 timestamp such as "
                                "2026-01-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)

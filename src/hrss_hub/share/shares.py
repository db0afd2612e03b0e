"""Which shares exist and what each may read: one share per sharing agreement.

A share is named after the agreement's recipient id (``medical-insurance``) and holds one
schema, ``default``, with one table per dataset the agreement grants and the hub has
delivered — the recipient's outbox table ``<outbox>/<recipient>/<dataset>/``. Nothing
else is reachable: the exchange itself, other recipients' outboxes and datasets outside
the grant have no name in any share.

Agreements are read from ``sharing/*.yaml`` again whenever a file there changes (its name,
size or modification time), so revoking (``revoked: true``), shortening ``valid_to`` or
tightening a grant takes effect on the next request — no hub run and no server restart.
A folder that cannot be parsed closes every share until it is fixed: the server never
falls back to agreements it can no longer confirm.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from hrss_hub.errors import HubError
from hrss_hub.exchange.policy import Agreement, DatasetGrant, load_agreements
from hrss_hub.share.storage import OutboxRoot
from hrss_hub.share.tables import DeltaTableReader, FileAction

SCHEMA = "default"
#: commitInfo key under which the hub records the grant an outbox version was cut with
GRANT_KEY = "hrss.grant"
#: columns naming a row's administrative division, for row scope (see exchange.writer)
DIVISION_COLUMNS = ("division", "address_division")
_NAMESPACE = uuid.UUID("8f6f0c52-5d0e-4a59-9b8e-2f1c1a7c3e11")


class AgreementsUnreadable(HubError):
    """The sharing folder cannot be parsed: every share is closed until it is fixed."""


@dataclass(frozen=True)
class Share:
    """One recipient's share."""

    name: str
    id: str
    agreement: Agreement

    @property
    def recipient(self) -> str:
        """The recipient id (the share's name)."""
        return self.agreement.recipient_id


@dataclass(frozen=True)
class SharedTable:
    """One table of a share: a recipient's outbox of one dataset."""

    share: str
    schema: str
    name: str
    id: str
    share_id: str
    grant: DatasetGrant

    @property
    def rel(self) -> str:
        """The table's folder below the outbox root."""
        return f"{self.share}/{self.name}"

    @property
    def qualified(self) -> str:
        """``share.schema.table``, as clients name it."""
        return f"{self.share}.{self.schema}.{self.name}"


def grant_record(grant: DatasetGrant) -> str:
    """The canonical JSON of what a grant delivers: the value the hub stamps into each
    outbox commit's ``commitInfo`` under :data:`GRANT_KEY`, and the server compares."""
    return json.dumps({"columns": {c: a for c, a in sorted(grant.columns.items())
                                   if a != "drop"},
                       "division_prefix": None if grant.division_prefixes is None
                       else sorted(grant.division_prefixes)},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class AgreementSource:
    """The agreements of a folder, re-read when its files change."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._agreements: dict[str, Agreement] = {}
        self._error: str | None = None

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        if self.folder is None or not self.folder.is_dir():
            return ()
        out = []
        for p in sorted(self.folder.glob("*.yaml")):
            try:
                st = p.stat()
            except FileNotFoundError:  # removed while we list: the next call sees it
                continue
            out.append((p.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def by_recipient(self) -> Mapping[str, Agreement]:
        """Agreements by recipient id; raises :class:`AgreementsUnreadable`."""
        signature = self._current_signature()
        with self._lock:
            if signature != self._signature:
                try:
                    self._agreements = {a.recipient_id: a for a in load_agreements(self.folder)}
                    self._error = None
                except HubError as exc:
                    self._agreements = {}
                    self._error = str(exc)
                self._signature = signature
            if self._error is not None:
                raise AgreementsUnreadable("the sharing agreements cannot be read",
                                           {"folder": str(self.folder)}, self._error)
            return dict(self._agreements)

    def get(self, recipient: str) -> Agreement | None:
        """The agreement of ``recipient``, or ``None``."""
        return self.by_recipient().get(recipient)


class ShareRegistry:
    """Shares, schemas and tables derived from agreements and the outbox root."""

    def __init__(self, agreements: AgreementSource, outbox: OutboxRoot, hub_id: str) -> None:
        self.agreements = agreements
        self.outbox = outbox
        self.hub_id = hub_id
        self._readers: dict[str, DeltaTableReader] = {}
        self._lock = threading.Lock()

    def share_of(self, recipient: str) -> Share | None:
        """The share of ``recipient`` (``None`` without an agreement)."""
        agreement = self.agreements.get(recipient)
        if agreement is None:
            return None
        return Share(recipient, str(uuid.uuid5(_NAMESPACE, f"{self.hub_id}/{recipient}")),
                     agreement)

    def tables(self, share: Share) -> list[SharedTable]:
        """The share's tables: granted datasets whose outbox table exists, by name."""
        out = []
        for name in sorted(share.agreement.datasets):
            table = self._table(share, name)
            if self.reader(table).exists():
                out.append(table)
        return out

    def table(self, share: Share, schema: str, name: str) -> SharedTable | None:
        """The table ``name`` of ``share`` (names are case-insensitive), or ``None``."""
        if schema.lower() != SCHEMA:
            return None
        match = next((d for d in share.agreement.datasets if d.lower() == name.lower()), None)
        if match is None:
            return None
        table = self._table(share, match)
        return table if self.reader(table).exists() else None

    def _table(self, share: Share, dataset: str) -> SharedTable:
        return SharedTable(share.name, SCHEMA, dataset,
                           str(uuid.uuid5(_NAMESPACE, f"{share.id}/{dataset}")), share.id,
                           share.agreement.datasets[dataset])

    def reader(self, table: SharedTable) -> DeltaTableReader:
        """The (cached) reader of a table's Delta log."""
        with self._lock:
            reader = self._readers.get(table.rel)
            if reader is None:
                reader = self._readers[table.rel] = DeltaTableReader(self.outbox, table.rel)
            return reader


@dataclass(frozen=True)
class Conformance:
    """Whether an outbox version may be served under the grant in force now."""

    ok: bool
    reason: str | None = None
    #: division prefixes to keep files by (``None``: no file filter)
    row_prefixes: tuple[str, ...] | None = None
    division_column: str | None = None


def conformance(table: SharedTable, reader: DeltaTableReader, version: int,
                columns: Sequence[str], partition_columns: Sequence[str]) -> Conformance:
    """Compare the outbox version with the grant in force now.

    The outbox is cut by a hub run, the agreement can change at any moment. Until the next
    run re-derives the outbox, a version is served only as far as the current grant
    covers it: a column it no longer grants (or grants with another masking) closes the
    table; a narrower row scope is applied at once by skipping files of divisions out of
    scope when the table is partitioned by division, and closes it otherwise. A wider
    grant changes nothing until the run delivers the new columns or rows.
    """
    grant = table.grant
    delivered = {c: a for c, a in grant.columns.items() if a != "drop"}
    recorded = recorded_grant(reader, version)
    division = next((c for c in DIVISION_COLUMNS if c in partition_columns), None)
    extra = [c for c in columns if c not in delivered]
    if extra:
        return Conformance(False, _changed(table, "no longer grants column(s) "
                                           + ", ".join(sorted(extra))))
    if recorded is not None:
        raw_columns = recorded.get("columns")
        rec_columns: Mapping[str, str] = raw_columns if isinstance(raw_columns, dict) else {}
        changed = sorted(c for c in columns if c in rec_columns
                         and rec_columns[c] != delivered.get(c))
        if changed:
            return Conformance(False, _changed(
                table, "masks column(s) differently now: " + ", ".join(
                    f"{c} {rec_columns[c]}→{delivered[c]}" for c in changed)))
        rec_rows = recorded.get("division_prefix")
        narrowed = not _covers(grant.division_prefixes, tuple(str(r) for r in rec_rows)
                               if isinstance(rec_rows, list) else None)
        if narrowed and division is None:
            return Conformance(False, _changed(table, "scopes rows more narrowly now"))
    return Conformance(True, None, grant.division_prefixes if division else None, division)


def _changed(table: SharedTable, what: str) -> str:
    return (f"the agreement of {table.share} {what}; {table.name} is closed until the hub's "
            "next run re-derives the outbox")


def _covers(current: tuple[str, ...] | None, recorded: tuple[str, ...] | None) -> bool:
    """Whether rows in scope ``recorded`` are all in scope ``current`` (None: all rows)."""
    if current is None:
        return True
    if recorded is None:
        return False
    return all(any(r.startswith(c) for c in current) for r in recorded)


def recorded_grant(reader: DeltaTableReader, version: int) -> dict[str, object] | None:
    """The grant ``version`` was cut with: the policy of its signed manifest (columns
    and actions, division prefixes), else the stamp in the newest commit ≤ ``version``
    that carries one, else ``None``."""
    policy = reader.manifest_policy(version)
    if policy is not None and isinstance(policy.get("columns"), dict):
        return {"columns": {c: a for c, a in policy["columns"].items() if a != "drop"},
                "division_prefix": policy.get("division_prefix")}
    for v in range(version, max(-1, version - 20), -1):
        try:
            commit = reader.commit(v)
        except ValueError:
            return None
        if commit.grant is not None:
            try:
                doc = json.loads(commit.grant)
            except json.JSONDecodeError:
                return None
            return doc if isinstance(doc, dict) else None
    return None


def in_scope(action: FileAction, rules: Conformance) -> bool:
    """Whether a file's division partition is inside the current row scope."""
    if rules.row_prefixes is None or rules.division_column is None:
        return True
    value = action.partition_values.get(rules.division_column)
    return value is not None and any(value.startswith(p) for p in rules.row_prefixes)


def agreement_state(agreement: Agreement, today: date | None = None) -> str:
    """``active``, ``revoked``, ``expired`` or ``pending`` (not yet in force)."""
    today = today or date.today()
    if agreement.revoked:
        return "revoked"
    if today > agreement.valid_to:
        return "expired"
    if today < agreement.valid_from:
        return "pending"
    return "active"

"""The :class:`Ledger`: run state, watermarks and audit, one short transaction per call."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hrss_hub.errors import LedgerError, redact
from hrss_hub.ledger import db
from hrss_hub.ledger import locks as locks_mod
from hrss_hub.ledger.audit import AuditLink, event_hash, verify_chain
from hrss_hub.ledger.coltypes import utcnow
from hrss_hub.ledger.jsonutil import to_json
from hrss_hub.ledger.locks import LockInfo, LockOwner
from hrss_hub.ledger.models import (
    QUARANTINE_ACTIONS,
    RUN_STATUSES,
    RUN_TRIGGERS,
    AuditEvent,
    AuditHead,
    Batch,
    Delivery,
    ExchangeVersion,
    ProcessedFile,
    QualityResultRow,
    QuarantineAction,
    Run,
    SchemaSnapshot,
    StreamState,
)
from hrss_hub.ledger.records import AuditNote, BatchCounts, FileRecord, QualityResult, RunInfo
from hrss_hub.ledger.upsert import insert_missing, upsert


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, readable run id: ``YYYYMMDDTHHMMSSZ-xxxxxx`` (UTC + random suffix)."""
    return f"{(now or utcnow()):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class Ledger:
    """Access to one ledger database. Use :meth:`open` to also create/upgrade its schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._parsed = db.parse_url(url)
        self.engine = db.make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Ledger:
        """Connect to ``url``; with ``migrate`` upgrade it to the newest schema, otherwise
        require that it already is. Creates the parent folder of a SQLite file."""
        parsed = db.parse_url(url)
        if db.is_sqlite(parsed) and not db.is_memory_sqlite(parsed):
            folder = Path(str(parsed.database)).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(f"cannot create the ledger folder: {exc.strerror}",
                                  {"path": str(folder), "url": db.safe_url(parsed)}) from None
        ledger = cls(url)
        try:
            ledger.ping()
            if migrate:
                ledger.migrate()
            elif ledger.current_revision() != db.head_revision():
                raise LedgerError("the ledger database schema is not up to date",
                                  {"url": ledger.safe_url,
                                   "revision": ledger.current_revision()},
                                  "run `hrss-hub ledger upgrade`")
        except BaseException:
            ledger.close()
            raise
        return ledger

    @property
    def safe_url(self) -> str:
        """The URL with its password masked."""
        return db.safe_url(self._parsed)

    def ping(self) -> None:
        """Connect once; a failure becomes a :class:`LedgerError` naming the safe URL."""
        try:
            with self.engine.connect():
                pass
        except (DBAPIError, OSError) as exc:
            raise db.connection_error(self._parsed, exc) from None

    def migrate(self) -> str | None:
        """Upgrade the schema to the newest revision; return that revision."""
        try:
            return db.upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise LedgerError(f"migrating the ledger failed: {self._first_line(exc)}",
                              {"url": self.safe_url},
                              "check that the user may create tables") from exc

    def current_revision(self) -> str | None:
        """The schema revision of the database (``None`` if it was never migrated)."""
        with self._errors(), self.engine.connect() as conn:
            return db.current_revision(conn)

    def close(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.safe_url!r})"

    # -- runs ------------------------------------------------------------------------

    def start_run(self, hub_id: str, trigger: str, config_path: str | Path | None = None,
                  *, locks: Sequence[str] = (), owner: LockOwner | None = None,
                  lease_seconds: float = locks_mod.DEFAULT_LEASE_SECONDS,
                  audit: AuditNote | None = None) -> str:
        """Record a new run (status ``running``) and return its id.

        With ``locks`` (see :func:`hrss_hub.ledger.locks.run_locks`) the run takes those
        run locks in the same transaction, or is not recorded at all: a held lock raises
        :class:`~hrss_hub.errors.RunLockedError`. Stale locks are taken over and their
        runs closed as failed (interrupted), as are lockless ``running`` runs older than
        the lease. ``audit`` is appended in that transaction too (its details gain
        ``run_id``), so a caller killed right after can find the run it opened.
        """
        _check_choice("trigger", trigger, RUN_TRIGGERS)
        run_id = new_run_id()
        with self._tx() as s:
            if locks:
                locks_mod.sweep_lockless(s, lease_seconds)
            s.add(Run(id=run_id, hub_id=hub_id, trigger=trigger, status="running",
                      started_at=utcnow(),
                      config_path=None if config_path is None else str(config_path)))
            s.flush()
            if locks:
                locks_mod.acquire(s, run_id, locks, owner or LockOwner.this_process(),
                                  lease_seconds)
            if audit is not None:
                self._append_audit(s, audit.actor, audit.action, audit.subject,
                                   {**audit.details, "run_id": run_id})
        return run_id

    # -- run locks ---------------------------------------------------------------------

    def acquire_locks(self, holder: str, names: Sequence[str], *,
                      owner: LockOwner | None = None,
                      lease_seconds: float = locks_mod.DEFAULT_LEASE_SECONDS
                      ) -> list[tuple[str, str]]:
        """Take the run locks ``names`` for ``holder`` (all or none); return the stale
        holders taken over as ``(run id, reason)``. Re-acquiring one's own locks renews
        them. Raises :class:`~hrss_hub.errors.RunLockedError` when one is held."""
        with self._tx() as s:
            return locks_mod.acquire(s, holder, names, owner or LockOwner.this_process(),
                                     lease_seconds)

    def renew_locks(self, holder: str,
                    lease_seconds: float = locks_mod.DEFAULT_LEASE_SECONDS) -> int:
        """Extend ``holder``'s locks (the heartbeat); how many (0: they were taken over)."""
        with self._tx() as s:
            return locks_mod.renew(s, holder, lease_seconds)

    def release_locks(self, holder: str) -> int:
        """Release every lock of ``holder``; how many there were."""
        with self._tx() as s:
            return locks_mod.release(s, holder)

    def run_locks(self) -> list[LockInfo]:
        """Every recorded run lock (live and stale), by name."""
        with self._tx() as s:
            return locks_mod.held(s)

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any],
                   error: str | None = None) -> None:
        """Close a run with its final ``status``, ``summary`` and (redacted) ``error``."""
        _check_choice("status", status, RUN_STATUSES)
        values = {"status": status, "finished_at": utcnow(),
                  "summary": to_json(summary, what="run summary", run=run_id),
                  "error": None if error is None else redact(error)}
        with self._tx() as s:
            done = s.execute(update(Run).where(Run.id == run_id).values(**values))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise LedgerError("unknown run", {"run": run_id, "url": self.safe_url})

    def get_run(self, run_id: str) -> RunInfo | None:
        """The run with ``run_id``, or ``None``."""
        with self._tx() as s:
            run = s.get(Run, run_id)
            return None if run is None else _run_info(run)

    def recent_runs(self, limit: int = 20) -> list[RunInfo]:
        """The newest ``limit`` runs, newest first."""
        with self._tx() as s:
            rows = s.scalars(select(Run).order_by(Run.started_at.desc(), Run.id.desc())
                             .limit(limit))
            return [_run_info(r) for r in rows]

    def record_batch(self, run_id: str, system: str, stream: str, seq: int, *,
                     rows_read: int = 0, rows_mapped: int = 0, rows_published: int = 0,
                     rows_quarantined: int = 0, rows_filtered: int = 0,
                     started_at: datetime | None = None,
                     finished_at: datetime | None = None) -> int:
        """Record the row counts of one batch; return its id."""
        batch = Batch(run_id=run_id, system=system, stream=stream, seq=seq,
                      rows_read=rows_read, rows_mapped=rows_mapped,
                      rows_published=rows_published, rows_quarantined=rows_quarantined,
                      rows_filtered=rows_filtered, started_at=started_at,
                      finished_at=finished_at or utcnow())
        with self._tx() as s:
            s.add(batch)
            s.flush()
            return batch.id

    # -- watermarks, files, schemas ------------------------------------------------------

    def get_state(self, system: str, stream: str) -> dict[str, Any] | None:
        """The committed state (watermark) of a stream, or ``None`` before its first commit."""
        with self._tx() as s:
            row = s.get(StreamState, (system, stream))
            return None if row is None else dict(row.state)

    def commit_state(self, system: str, stream: str, state: Mapping[str, Any],
                     run_id: str) -> None:
        """Set a stream's state. Only the engine calls this, after the data is published."""
        self.commit_stream(system, stream, run_id, state)

    def commit_stream(self, system: str, stream: str, run_id: str,
                      state: Mapping[str, Any] | None,
                      files: Iterable[FileRecord] = (),
                      schema: tuple[Mapping[str, Any], str] | None = None,
                      batch: BatchCounts | None = None,
                      audit: Sequence[tuple[str, str, str, Mapping[str, Any]]] = ()) -> None:
        """Commit, in ONE transaction, what a published stream has consumed: its new
        ``state`` (``None``: unchanged), the ``files`` it processed, its ``schema`` as
        (schema_json, fingerprint), its ``batch`` counts and its ``audit`` events as
        (actor, action, subject, details). Either all of it is recorded or none of it, so
        counts (and e.g. "released rows re-published") are exactly-once like the data."""
        files = list(files)
        with self._tx() as s:
            for actor, action, subject, details in audit:
                self._append_audit(s, actor, action, subject, details)
            self._insert_files(s, system, stream, files, run_id)
            if schema is not None:
                self._insert_schema(s, system, stream, schema[0], schema[1], run_id)
            if state is not None:
                self._upsert_state(s, system, stream, state, run_id)
            if batch is not None:
                s.add(Batch(run_id=run_id, system=system, stream=stream, seq=0,
                            rows_read=batch.read, rows_mapped=batch.mapped,
                            rows_published=batch.published,
                            rows_quarantined=batch.quarantined,
                            rows_filtered=batch.filtered, finished_at=utcnow(),
                            details=to_json(batch.details, what="batch details",
                                            system=system, stream=stream)))

    def committed_batches(self, run_ids: Iterable[str]
                          ) -> dict[tuple[str, str, str], BatchCounts]:
        """The committed counts per ``(run id, system, stream)`` of the given runs."""
        wanted = list(set(run_ids))
        out: dict[tuple[str, str, str], BatchCounts] = {}
        if not wanted:
            return out
        with self._tx() as s:
            for b in s.scalars(select(Batch).where(Batch.run_id.in_(wanted))
                               .order_by(Batch.id)):
                key = (b.run_id, b.system, b.stream)
                got = BatchCounts(b.rows_read, b.rows_mapped, b.rows_published,
                                  b.rows_quarantined, b.rows_filtered, dict(b.details or {}))
                out[key] = got if key not in out else out[key].plus(got)
        return out

    def is_file_processed(self, system: str, stream: str, sha256: str) -> bool:
        """Whether a file with this content was already processed by this stream."""
        with self._tx() as s:
            found = s.scalar(select(ProcessedFile.id).where(
                ProcessedFile.system == system, ProcessedFile.stream == stream,
                ProcessedFile.sha256 == sha256))
            return found is not None

    def record_files(self, system: str, stream: str, files: Iterable[FileRecord],
                     run_id: str) -> None:
        """Mark files as processed (already-recorded ones are left alone)."""
        files = list(files)
        with self._tx() as s:
            self._insert_files(s, system, stream, files, run_id)

    def processed_files(self, system: str, stream: str) -> set[str]:
        """SHA-256 of every file this stream has processed."""
        with self._tx() as s:
            return set(s.scalars(select(ProcessedFile.sha256).where(
                ProcessedFile.system == system, ProcessedFile.stream == stream)))

    def last_schema(self, system: str, stream: str) -> dict[str, Any] | None:
        """The most recently saved schema of a stream, or ``None``."""
        snap = self._last_snapshot(system, stream)
        return None if snap is None else snap[0]

    def last_schema_fingerprint(self, system: str, stream: str) -> str | None:
        """The fingerprint of the most recently saved schema, or ``None``."""
        snap = self._last_snapshot(system, stream)
        return None if snap is None else snap[1]

    def save_schema(self, system: str, stream: str, schema_json: Mapping[str, Any],
                    fingerprint: str, run_id: str) -> bool:
        """Save a schema snapshot unless the fingerprint is unchanged; return whether saved."""
        with self._tx() as s:
            return self._insert_schema(s, system, stream, schema_json, fingerprint, run_id)

    # -- quality, exchange, deliveries, quarantine ----------------------------------------

    def record_quality(self, run_id: str, results: Iterable[QualityResult]) -> int:
        """Store suite-level quality results of a run; return how many."""
        rows = [QualityResultRow(
            run_id=run_id, system=r.system, stream=r.stream, entity=r.entity, rule=r.rule,
            severity=r.severity, evaluated=r.evaluated, failed=r.failed,
            details=to_json(r.details, what="quality details", rule=r.rule))
            for r in results]
        with self._tx() as s:
            s.add_all(rows)
        return len(rows)

    def record_exchange_version(self, dataset: str, version: int, manifest_path: str | Path,
                                manifest_sha256: str, rows: int, run_id: str) -> None:
        """Record a published dataset version. Recording the same manifest again is a
        no-op; a different manifest under an existing version is an error."""
        with self._tx() as s:
            existing = s.scalar(select(ExchangeVersion).where(
                ExchangeVersion.dataset == dataset, ExchangeVersion.version == version))
            if existing is not None:
                if existing.manifest_sha256 == manifest_sha256:
                    return
                raise LedgerError("dataset version already recorded with another manifest",
                                  {"dataset": dataset, "version": version},
                                  "versions are immutable: publish a new version")
            s.add(ExchangeVersion(dataset=dataset, version=version,
                                  manifest_path=str(manifest_path),
                                  manifest_sha256=manifest_sha256, rows=rows, run_id=run_id,
                                  created_at=utcnow()))

    def latest_exchange_version(self, dataset: str) -> int | None:
        """The highest recorded version of ``dataset``, or ``None``."""
        with self._tx() as s:
            return s.scalar(select(func.max(ExchangeVersion.version))
                            .where(ExchangeVersion.dataset == dataset))

    def record_delivery(self, recipient: str, dataset: str, version: int, path: str | Path,
                        rows: int, manifest_sha256: str, run_id: str) -> None:
        """Record that ``recipient`` was given ``dataset`` at ``version``."""
        with self._tx() as s:
            s.add(Delivery(recipient=recipient, dataset=dataset, version=version,
                           path=str(path), rows=rows, manifest_sha256=manifest_sha256,
                           run_id=run_id, delivered_at=utcnow()))

    def is_delivered(self, recipient: str, dataset: str, version: int) -> bool:
        """Whether ``recipient`` already received this dataset version."""
        with self._tx() as s:
            return s.scalar(select(Delivery.id).where(
                Delivery.recipient == recipient, Delivery.dataset == dataset,
                Delivery.version == version).limit(1)) is not None

    def record_quarantine_action(self, run_id: str, system: str, entity: str, row_key: str,
                                 action: str, actor: str, reason: str | None = None) -> None:
        """Record a steward's ``release`` or ``reject`` of a quarantined row."""
        _check_choice("quarantine action", action, QUARANTINE_ACTIONS)
        with self._tx() as s:
            s.add(QuarantineAction(run_id=run_id, system=system, entity=entity,
                                   row_key=row_key, action=action, actor=actor,
                                   reason=reason, at=utcnow()))

    def quarantine_decisions(self, system: str, entity: str) -> dict[str, str]:
        """The latest action per row key of an entity (``release`` / ``reject``)."""
        with self._tx() as s:
            rows = s.execute(select(QuarantineAction.row_key, QuarantineAction.action)
                             .where(QuarantineAction.system == system,
                                    QuarantineAction.entity == entity)
                             .order_by(QuarantineAction.id))
            return {row.row_key: row.action for row in rows}

    # -- audit -----------------------------------------------------------------------------

    def append_audit(self, actor: str, action: str, subject: str,
                     details: Mapping[str, Any] | None = None) -> str:
        """Append an event to the audit chain; return its hash (a verifiable head)."""
        with self._tx() as s:
            return self._append_audit(s, actor, action, subject, details)

    def _append_audit(self, s: Session, actor: str, action: str, subject: str,
                      details: Mapping[str, Any] | None) -> str:
        clean = to_json(details, what="audit details", action=action)
        at = utcnow()
        # updating the head first takes its lock (a write lock on SQLite), so concurrent
        # appenders queue here instead of forking the chain
        bumped = s.execute(update(AuditHead).where(AuditHead.id == 1)
                           .values(count=AuditHead.count + 1))
        if bumped.rowcount != 1:  # type: ignore[attr-defined]
            raise LedgerError("the audit head row is missing", {"url": self.safe_url},
                              "run `hrss-hub ledger upgrade`; if it was deleted, the "
                              "audit trail has been tampered with")
        prev = s.scalars(select(AuditHead.hash).where(AuditHead.id == 1)).one()
        digest = event_hash(prev, at, actor, action, subject, clean)
        s.add(AuditEvent(at=at, actor=actor, action=action, subject=subject,
                         details=clean, prev_hash=prev, hash=digest))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
        return digest

    def audit_subjects(self, action: str, prefix: str = "") -> set[str]:
        """Subjects of the audit events with ``action`` whose subject starts with ``prefix``."""
        with self._tx() as s:
            return set(s.scalars(select(AuditEvent.subject).where(
                AuditEvent.action == action, AuditEvent.subject.startswith(prefix,
                                                                          autoescape=True))))

    def audit_events(self, action: str, subject: str) -> list[dict[str, Any]]:
        """The details of every audit event with exactly this ``action`` and ``subject``,
        oldest first."""
        with self._tx() as s:
            return [dict(d or {}) for d in s.scalars(
                select(AuditEvent.details).where(AuditEvent.action == action,
                                                 AuditEvent.subject == subject)
                .order_by(AuditEvent.seq))]

    def verify_audit(self, expected_head: str | None = None) -> list[str]:
        """Check the audit chain; return the problems found (empty: intact).

        ``expected_head`` is a hash returned by :meth:`append_audit` and kept outside
        the database; it must still be in the chain.
        """
        with self._tx() as s:
            head = s.get(AuditHead, 1)
            events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)
                               .execution_options(yield_per=1000))
            links = (AuditLink(e.seq, e.at, e.actor, e.action, e.subject, e.details,
                               e.prev_hash, e.hash) for e in events)
            return verify_chain(links, None if head is None else head.count,
                                None if head is None else head.hash, expected_head)

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One session in one transaction; database failures become :class:`LedgerError`."""
        with self._errors(), self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise LedgerError(f"ledger constraint violated: {self._first_line(exc)}",
                              {"url": self.safe_url}) from exc
        except DBAPIError as exc:
            hint = ("run `hrss-hub ledger upgrade`" if "exist" in str(exc.orig)
                    else db.CONNECT_HINT)
            raise LedgerError(f"ledger database error: {self._first_line(exc)}",
                              {"url": self.safe_url}, hint) from None

    def _first_line(self, exc: BaseException) -> str:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        secrets_ = [self._parsed.password] if isinstance(self._parsed.password, str) else []
        return redact(text[0] if text else type(exc).__name__, secrets_)

    def _insert_files(self, s: Session, system: str, stream: str, files: list[FileRecord],
                      run_id: str) -> None:
        now = utcnow()
        unique = {f.sha256: f for f in files}  # the same content twice in one call: once
        insert_missing(s, ProcessedFile, [
            {"system": system, "stream": stream, "sha256": f.sha256, "file_name": f.file_name,
             "size": f.size, "rows": f.rows, "run_id": run_id, "processed_at": now}
            for f in unique.values()], keys=("system", "stream", "sha256"))

    def _insert_schema(self, s: Session, system: str, stream: str,
                       schema_json: Mapping[str, Any], fingerprint: str, run_id: str) -> bool:
        last = s.scalar(select(SchemaSnapshot.fingerprint).where(
            SchemaSnapshot.system == system, SchemaSnapshot.stream == stream)
            .order_by(SchemaSnapshot.id.desc()).limit(1))
        if last == fingerprint:
            return False
        s.add(SchemaSnapshot(system=system, stream=stream, fingerprint=fingerprint,
                             schema_json=to_json(schema_json, what="schema", system=system,
                                                 stream=stream),
                             run_id=run_id, created_at=utcnow()))
        s.flush()
        return True

    def _upsert_state(self, s: Session, system: str, stream: str, state: Mapping[str, Any],
                      run_id: str) -> None:
        clean = to_json(state, what="stream state", strict=True, system=system, stream=stream)
        upsert(s, StreamState, {"system": system, "stream": stream, "state": clean,
                                "run_id": run_id, "updated_at": utcnow()},
               keys=("system", "stream"), update=("state", "run_id", "updated_at"))

    def _last_snapshot(self, system: str, stream: str) -> tuple[dict[str, Any], str] | None:
        with self._tx() as s:
            row = s.execute(select(SchemaSnapshot.schema_json, SchemaSnapshot.fingerprint)
                            .where(SchemaSnapshot.system == system,
                                   SchemaSnapshot.stream == stream)
                            .order_by(SchemaSnapshot.id.desc()).limit(1)).first()
            return None if row is None else (dict(row[0]), row[1])


def _check_choice(kind: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise LedgerError(f"invalid {kind} {value!r}", {}, "valid: " + ", ".join(valid))


def _run_info(run: Run) -> RunInfo:
    return RunInfo(id=run.id, hub_id=run.hub_id, started_at=run.started_at,
                   finished_at=run.finished_at, status=run.status, trigger=run.trigger,
                   config_path=run.config_path, summary=run.summary, error=run.error)


__all__ = ["Ledger", "new_run_id"]

"""Run locks held in the ledger: who may run which part of a workspace right now.

A run holds named locks (``system:<name>`` for each system it extracts, ``publish`` when
it cuts dataset versions), acquired in the transaction that records the run. Two runs
that need one name cannot both proceed. It works on every ledger backend because it is
plain rows: acquiring serializes on the table (a write transaction on SQLite, a table
lock on PostgreSQL), and the primary key keeps the rest honest.

A lock is *stale* when its lease expired (the holder stopped renewing it) or when its
owner process is gone from this host (SIGKILL, power loss of a laptop run). A stale lock
is taken over, and the holder's run — still ``running`` in the ledger — is closed as
``failed`` with an ``interrupted`` error, so no run stays ``running`` forever.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from hrss_hub.errors import RunLockedError
from hrss_hub.ledger.coltypes import utcnow
from hrss_hub.ledger.models import Run, RunLock

#: lock of the step that cuts dataset versions and delivers them (one publisher)
PUBLISH = "publish"
#: seconds a lock stays valid without a heartbeat (a CLI run renews it every third of it)
DEFAULT_LEASE_SECONDS = 60.0
#: an Airflow run's tasks renew its lock when they start and end; between two tasks it
#: may wait in a queue for a while, so its lease is long (a dead run is found by it)
DETACHED_LEASE_SECONDS = 1800.0

INTERRUPTED = "interrupted"


def system_lock(system: str) -> str:
    """The lock name of one source system's extraction."""
    return f"system:{system}"


def run_locks(systems: Sequence[str], *, publish: bool) -> list[str]:
    """The lock names a run of ``systems`` needs (plus :data:`PUBLISH` if it publishes)."""
    names = sorted({system_lock(s) for s in systems})
    return [*names, PUBLISH] if publish else names


@dataclass(frozen=True)
class LockOwner:
    """Where a lock holder runs. ``pid`` ``None``: a holder spanning processes."""

    host: str
    pid: int | None

    @classmethod
    def this_process(cls) -> LockOwner:
        """The calling process on this host."""
        return cls(socket.gethostname(), os.getpid())

    @classmethod
    def detached(cls) -> LockOwner:
        """A holder whose work happens in several processes (only its lease counts)."""
        return cls(socket.gethostname(), None)


@dataclass(frozen=True)
class LockInfo:
    """One held lock, as the ledger records it."""

    name: str
    holder: str
    host: str
    pid: int | None
    heartbeat_at: datetime
    lease_until: datetime
    acquired_at: datetime

    def describe(self, now: datetime | None = None) -> str:
        """``run X (pid 12 on host h, heartbeat 3 s ago)`` for messages."""
        age = ((now or utcnow()) - self.heartbeat_at).total_seconds()
        where = f"pid {self.pid} on {self.host}" if self.pid is not None else self.host
        return f"{self.holder} ({where}, heartbeat {age:.0f} s ago)"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a killed child its parent has not reaped yet is a zombie: it is dead
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` of this host started (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5): start time in clock ticks after boot
        # the age from /proc/uptime (1/100 s) and not /proc/stat's btime, which is whole
        # seconds: up to a second early made a newer process look older than a lock
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    age = max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    return datetime.fromtimestamp(time.time() - age, UTC)


def stale_reason(lock: RunLock | LockInfo, now: datetime, host: str) -> str | None:
    """Why ``lock`` no longer protects a live holder, or ``None`` while it does.

    An owner process on this host is asked directly: dead (or its pid reused by a newer
    process) is stale, alive is live whatever its lease says, so a long stream needs no
    background heartbeat on a local ledger. Other owners (another host, or a run spanning
    processes) are judged by their lease.
    """
    if lock.pid is not None and lock.host == host:
        if not pid_alive(lock.pid):
            return f"its process {lock.pid} on {host} is gone"
        started = process_started_at(lock.pid)
        if started is not None and started > lock.acquired_at + timedelta(seconds=2):
            return f"its process id {lock.pid} now belongs to a newer process"
        return None
    if lock.lease_until < now:
        return f"its lease expired at {lock.lease_until.isoformat()}"
    return None


def serialize(s: Session) -> None:
    """Make concurrent acquirers queue: the first statement of the transaction takes a
    write lock (SQLite) or a table lock (PostgreSQL), held until commit."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        s.execute(text("LOCK TABLE run_locks IN SHARE ROW EXCLUSIVE MODE"))
    elif dialect == "sqlite":
        # the driver opens the transaction at the first write: a no-op write here makes
        # the read below part of the transaction that inserts (no lost race)
        s.execute(update(RunLock).where(RunLock.name.is_(None)).values(name=RunLock.name))
    else:  # MySQL/MariaDB: row locks on what exists; the primary key covers new rows
        s.execute(select(RunLock.name).with_for_update())


def acquire(s: Session, holder: str, names: Sequence[str], owner: LockOwner,
            lease_seconds: float) -> list[tuple[str, str]]:
    """Take ``names`` for ``holder`` inside transaction ``s``: all of them or none.

    Returns ``(run id, reason)`` of the holders whose stale locks were taken over; their
    runs are closed as interrupted in the same transaction. Raises
    :class:`RunLockedError` naming the live holder when one name is taken.
    """
    now = utcnow()
    serialize(s)
    rows = list(s.scalars(select(RunLock).where(RunLock.name.in_(list(names)))))
    taken_over: dict[str, str] = {}
    for row in rows:
        if row.holder == holder:
            continue
        reason = stale_reason(row, now, owner.host)
        if reason is None:
            raise RunLockedError(
                "another run is in progress in this workspace",
                {"lock": row.name, "holder": _info(row).describe(now)},
                "wait for it to finish (or pass --wait to queue behind it); a run that was "
                "killed is detected by its lease or its dead process and taken over")
        taken_over.setdefault(row.holder, reason)
    stale_holders = list(taken_over)
    if stale_holders:
        # every lock of a dead holder goes, not only the names asked for
        s.execute(delete(RunLock).where(RunLock.holder.in_(stale_holders)))
    lease = now + timedelta(seconds=lease_seconds)
    mine = {r.name for r in rows if r.holder == holder}
    for name in names:
        if name in mine:
            s.execute(update(RunLock).where(RunLock.name == name)
                      .values(heartbeat_at=now, lease_until=lease))
        else:
            s.add(RunLock(name=name, holder=holder, host=owner.host, pid=owner.pid,
                          acquired_at=now, heartbeat_at=now, lease_until=lease))
    for run_id, reason in taken_over.items():
        interrupt_run(s, run_id, reason)
    s.flush()
    return list(taken_over.items())


def interrupt_run(s: Session, run_id: str, reason: str) -> bool:
    """Close run ``run_id`` as failed (interrupted) if it is still ``running``."""
    done = s.execute(update(Run).where(Run.id == run_id, Run.status == "running").values(
        status="failed", finished_at=utcnow(),
        error=f"{INTERRUPTED}: the run ended without closing ({reason})"))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def sweep_lockless(s: Session, older_than_seconds: float) -> list[str]:
    """Close ``running`` runs that hold no lock and started long ago (runs of versions
    before run locks, or killed between their own commits); return their ids."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    held = select(RunLock.holder)
    ids = list(s.scalars(select(Run.id).where(Run.status == "running",
                                               Run.started_at < cutoff,
                                               Run.id.not_in(held))))
    for run_id in ids:
        interrupt_run(s, run_id, "it held no run lock")
    return ids


def renew(s: Session, holder: str, lease_seconds: float) -> int:
    """Extend every lock of ``holder``; the number renewed (0: they were taken over)."""
    now = utcnow()
    done = s.execute(update(RunLock).where(RunLock.holder == holder).values(
        heartbeat_at=now, lease_until=now + timedelta(seconds=lease_seconds)))
    return int(done.rowcount)  # type: ignore[attr-defined]


def release(s: Session, holder: str) -> int:
    """Drop every lock of ``holder``; how many there were."""
    done = s.execute(delete(RunLock).where(RunLock.holder == holder))
    return int(done.rowcount)  # type: ignore[attr-defined]


def held(s: Session) -> list[LockInfo]:
    """Every lock currently recorded (stale ones included), by name."""
    return [_info(r) for r in s.scalars(select(RunLock).order_by(RunLock.name))]


def _info(row: RunLock) -> LockInfo:
    return LockInfo(row.name, row.holder, row.host, row.pid, row.heartbeat_at,
                    row.lease_until, row.acquired_at)

"""Opening a run under its ledger-held lock, and keeping the lock alive while it works.

See :mod:`hrss_hub.ledger.locks` for the lock rows. Here: waiting for a lock
(``hrss-hub run --wait``), and the heartbeat thread that renews the lease of a run that
lives in one process (the CLI). An Airflow run spans processes: its tasks renew the
lease when they start and end (:func:`renew_or_fail`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from hrss_hub.errors import RunLockedError, RunLockLostError
from hrss_hub.ledger import Ledger
from hrss_hub.ledger.locks import DEFAULT_LEASE_SECONDS, LockOwner

_LOG = logging.getLogger(__name__)

#: seconds between two attempts of a waiting run
WAIT_POLL_SECONDS = 1.0


def open_locked_run(ledger: Ledger, hub_id: str, trigger: str, config_path: str | None,
                    locks: Sequence[str], *, wait_seconds: float = 0.0,
                    owner: LockOwner | None = None,
                    lease_seconds: float = DEFAULT_LEASE_SECONDS) -> str:
    """Record a run holding ``locks``; return its id.

    A held lock raises :class:`RunLockedError` at once, or after ``wait_seconds`` of
    polling (``--wait``). Stale locks of killed runs are taken over on the way.
    """
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    while True:
        try:
            return ledger.start_run(hub_id, trigger, config_path, locks=locks, owner=owner,
                                    lease_seconds=lease_seconds)
        except RunLockedError as exc:
            if time.monotonic() >= deadline:
                if wait_seconds > 0:
                    exc.message += f" (waited {wait_seconds:g} s)"
                raise
        time.sleep(WAIT_POLL_SECONDS)


def renew_or_fail(ledger: Ledger, run_id: str, lease_seconds: float) -> None:
    """Renew ``run_id``'s locks; raise :class:`RunLockLostError` when it holds none
    (its lease expired and another run took the workspace over)."""
    if ledger.renew_locks(run_id, lease_seconds) == 0:
        raise RunLockLostError("this run no longer holds its run lock (its lease expired "
                               "and another run took over); nothing more is committed",
                               {"run_id": run_id},
                               "rerun: the committed state says what is still to do")


class Heartbeat:
    """Renews a run's locks every third of the lease from a daemon thread.

    :meth:`check` (called before every commit) raises :class:`RunLockLostError` once a
    renewal found the locks gone, so a run that lost its lock never commits.
    """

    def __init__(self, ledger: Ledger, run_id: str,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._lost = False
        self._thread = threading.Thread(target=self._beat, name=f"hrss-heartbeat-{run_id}",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                if self.ledger.renew_locks(self.run_id, self.lease_seconds) == 0:
                    self._lost = True
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease is long
                _LOG.warning("could not renew the run lock of %s", self.run_id, exc_info=True)

    def check(self) -> None:
        """Raise :class:`RunLockLostError` if the run's locks were taken over."""
        if self._lost:
            raise RunLockLostError("this run lost its run lock (its lease expired and "
                                   "another run took over); nothing more is committed",
                                   {"run_id": self.run_id},
                                   "rerun: the committed state says what is still to do")

"""The ledger-held run lock on SQLite and PostgreSQL: one holder per name, stale holders
(dead process, expired lease) taken over and their runs closed as failed (interrupted)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hrss_hub.errors import RunLockedError, RunLockLostError, is_retriable
from hrss_hub.ledger import Ledger, LockOwner
from hrss_hub.ledger.locks import PUBLISH, run_locks, system_lock
from hrss_hub.run.lock import Heartbeat, open_locked_run, renew_or_fail

LOCKS = run_locks(["hr_db", "si_core"], publish=True)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    led = Ledger.open(ledger_url)
    yield led
    led.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_run_fails_fast_naming_the_holder(ledger: Ledger) -> None:
    first = ledger.start_run("hub", "cli", locks=LOCKS)
    with pytest.raises(RunLockedError) as info:
        ledger.start_run("hub", "cli", locks=[system_lock("si_core")])
    assert first in str(info.value) and "another run is in progress" in str(info.value)
    assert is_retriable(info.value)
    # the refused run was never recorded
    assert [r.id for r in ledger.recent_runs()] == [first]
    # disjoint names do not conflict (another system's Airflow run)
    other = ledger.start_run("hub", "airflow", locks=[system_lock("personnel")])
    assert ledger.get_run(other) is not None
    ledger.finish_run(first, "succeeded", {})
    assert ledger.release_locks(first) == len(LOCKS)
    second = ledger.start_run("hub", "cli", locks=LOCKS)
    assert {lk.holder for lk in ledger.run_locks() if lk.name in LOCKS} == {second}


def test_a_dead_owner_is_taken_over_and_its_run_marked_interrupted(ledger: Ledger) -> None:
    owner = LockOwner(LockOwner.this_process().host, dead_pid())
    killed = ledger.start_run("hub", "cli", locks=LOCKS, owner=owner)
    taken = ledger.acquire_locks("next", [PUBLISH])
    assert [run for run, _ in taken] == [killed]
    info = ledger.get_run(killed)
    assert info is not None and info.status == "failed"
    assert info.error is not None and info.error.startswith("interrupted")
    assert "process" in info.error
    # every lock of the dead run went, not only the one asked for
    assert {lk.holder for lk in ledger.run_locks()} == {"next"}


def test_an_expired_lease_is_taken_over_also_from_another_host(ledger: Ledger) -> None:
    owner = LockOwner("other-host", 1)
    old = ledger.start_run("hub", "airflow", locks=[system_lock("a")], owner=owner,
                           lease_seconds=0.2)
    with pytest.raises(RunLockedError):  # alive: pid 1 is not checked on another host
        ledger.start_run("hub", "cli", locks=[system_lock("a")])
    time.sleep(0.4)
    new = ledger.start_run("hub", "cli", locks=[system_lock("a")])
    info = ledger.get_run(old)
    assert info is not None and info.status == "failed" and "lease expired" in str(info.error)
    # the old holder finds out when it renews: it must stop, not commit
    assert ledger.renew_locks(old) == 0
    with pytest.raises(RunLockLostError):
        renew_or_fail(ledger, old, 60)
    assert ledger.renew_locks(new) == 1


def test_lockless_running_runs_older_than_the_lease_are_closed(ledger: Ledger) -> None:
    legacy = ledger.start_run("hub", "cli")  # as written before run locks existed
    time.sleep(0.3)
    ledger.start_run("hub", "cli", locks=LOCKS, lease_seconds=0.2)
    info = ledger.get_run(legacy)
    assert info is not None and info.status == "failed" and "interrupted" in str(info.error)


def test_racing_acquirers_exactly_one_wins(ledger_url: str) -> None:
    ledgers = [Ledger.open(ledger_url) for _ in range(6)]
    won: list[str] = []
    lost: list[str] = []
    barrier = threading.Barrier(len(ledgers))

    def attempt(led: Ledger) -> None:
        barrier.wait()
        try:
            won.append(led.start_run("hub", "cli", locks=LOCKS))
        except RunLockedError as exc:
            lost.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(led,)) for led in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for led in ledgers:
        led.close()
    assert len(won) == 1 and len(lost) == len(ledgers) - 1


def test_waiting_for_a_lock_and_the_heartbeat(ledger: Ledger) -> None:
    holder = ledger.start_run("hub", "cli", locks=LOCKS, lease_seconds=0.6)
    with Heartbeat(ledger, holder, lease_seconds=0.6) as beat:
        time.sleep(1.0)  # beyond the first lease: only renewals keep it
        with pytest.raises(RunLockedError) as info:
            open_locked_run(ledger, "hub", "cli", None, LOCKS, wait_seconds=0.5)
        assert "waited 0.5 s" in str(info.value)
        beat.check()
    releaser = threading.Timer(0.5, ledger.release_locks, args=(holder,))
    releaser.start()
    waited = open_locked_run(ledger, "hub", "cli", None, LOCKS, wait_seconds=20)
    releaser.join()
    assert {lk.holder for lk in ledger.run_locks()} == {waited}


def test_concurrent_first_migrations_of_one_sqlite_file(tmp_path: Path) -> None:
    # two runs starting on a fresh workspace both migrate its new ledger: the second
    # used to fail with "table audit_events already exists"
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    code = ("import sys; from hrss_hub.ledger import Ledger; "
            "Ledger.open(sys.argv[1]).close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors

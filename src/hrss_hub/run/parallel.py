"""Streams of one run at once (``hrss-hub run --parallel N``, hub.yaml ``parallel``).

The result is decided by the data, never by timing: a run with N workers publishes the
same content, quarantines the same rows, commits the same ledger state and delivers the
same datasets as a serial run. What makes that hold:

* **phases stay ordered**: the streams of referenced entities finish before the streams
  that reference them (:func:`~hrss_hub.quality.references.stream_phases`); parallelism
  is *within* a phase only. A phase in which a stream references an entity another stream
  of the same phase stages (a reference cycle, an entity referring to itself) runs
  serially, because what that stream's reference check sees would depend on which stream
  finished first (:func:`plan_phase`);
* **one job per system and entity**: streams of one system mapping to the same entity run
  one after the other in file order, in one job (rows a steward released from quarantine
  are decided per system and entity: the first stream re-publishes a key, the next one
  skips it, exactly as serially);
* **the winner of a key is chosen at publish** by values of the records
  (:mod:`hrss_hub.exchange.winner`), after every stream has staged, so the order in which
  streams finish does not matter; the row gate's duplicate-key check is per stream;
* **nothing mutable is shared** by two jobs but the ledger: each job creates its own
  connector (:func:`~hrss_hub.pipeline.run_system` does), and the ledger engine's pool
  gives each job's session its own connection (SQLite writers wait for each other, see
  :func:`hrss_hub.ledger.db.make_engine`; an in-memory SQLite ledger has one shared
  connection, so a run on one is serial). Progress events are serialized
  (:class:`LockedProgress`); summaries are put back in file order.

Threads, not processes: extracting, mapping, checking and writing spend most of their time
in Arrow, Parquet, the database drivers and SQLite, which release the GIL, and a process
per worker would import the engine (and Great Expectations) again and could not share the
run's ledger, heartbeat and progress display (the figures are in the parallel note of
wave 4 and in docs/cli.md). An Airflow deployment runs streams as separate tasks instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

from hrss_hub.config import HubConfig
from hrss_hub.run.context import Progress
from hrss_hub.run.summary import StreamSummary

#: the default number of workers is half the cores, at most this (each stream holds a few
#: batches in memory, and the ledger has one writer at a time)
DEFAULT_MAX_WORKERS = 4

T = TypeVar("T")


def default_workers(cores: int | None = None) -> int:
    """Workers when neither ``--parallel`` nor hub.yaml ``parallel`` says: half the cores
    (one stream already keeps two busy: its next batch is read while the current one is
    mapped, checked and written), at least 1, at most :data:`DEFAULT_MAX_WORKERS`."""
    count = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(DEFAULT_MAX_WORKERS, count // 2))


def worker_count(cfg: HubConfig) -> int:
    """How many streams a run of ``cfg`` runs at once: ``cfg.parallel`` (``--parallel``,
    else hub.yaml ``parallel``), else :func:`default_workers`; 1 on an in-memory SQLite
    ledger (one shared connection)."""
    from hrss_hub.ledger.db import is_memory_sqlite, parse_url

    if cfg.ledger_url and is_memory_sqlite(parse_url(cfg.ledger_url)):
        return 1
    return cfg.parallel if cfg.parallel else default_workers()


@dataclass(frozen=True)
class Part:
    """Streams of one system run in one call, in file order."""

    system: str
    streams: frozenset[str]


#: one job: parts run one after the other in one worker
Job = list[Part]


def plan_phase(phase: Sequence[tuple[str, str]], entity_of: dict[tuple[str, str], str | None],
               references: Callable[[str], set[str]], systems: Sequence[str]) -> list[Job]:
    """The jobs of one phase: one per (system, entity), in phase order, or a single job
    of every stream (system by system, as a serial run goes) when a stream of the phase
    references an entity another stream of the same phase stages.

    ``phase``: ``(system, stream)`` pairs; ``references(entity)``: the entities that
    entity's suites look up; ``systems``: the run's systems in order.
    """
    def serial() -> list[Job]:
        job = [Part(name, frozenset(st for sys_name, st in phase if sys_name == name))
               for name in systems]
        return [[p for p in job if p.streams]]

    for item in phase:
        entity = entity_of.get(item)
        wanted = references(entity) if entity else set()
        if any(other != item and entity_of.get(other) in wanted for other in phase):
            return serial()
    groups: dict[tuple[str, str | None], list[str]] = {}
    for sys_name, stream in phase:
        entity = entity_of.get((sys_name, stream))
        # a stream without a mapping (skipped) has no entity: it is a job of its own
        group = (sys_name, entity if entity else f"\0{stream}")
        groups.setdefault(group, []).append(stream)
    return [[Part(sys_name, frozenset(streams))] for (sys_name, _), streams in groups.items()]


def run_jobs(jobs: Sequence[T], work: Callable[[T], None], workers: int) -> None:
    """Call ``work`` on every job, ``workers`` at a time (in order when 1). The first
    exception raised by a job is re-raised once the running jobs ended; jobs not started
    yet are not started."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            work(job)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs)),
                            thread_name_prefix="hrss-stream") as pool:
        futures: list[Future[None]] = [pool.submit(work, job) for job in jobs]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for f in futures:
                f.cancel()
            wait(futures)
            error = failed[0].exception()
            assert error is not None
            raise error


class LockedProgress:
    """A :class:`~hrss_hub.run.context.Progress` whose events arrive one at a time
    (workers report from their own threads)."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def stream_started(self, system: str, stream: str) -> None:
        """Forwarded under the lock."""
        with self._lock:
            self.inner.stream_started(system, stream)

    def stream_estimate(self, system: str, stream: str,
                        estimate: Callable[[], int | None]) -> None:
        """Forwarded under the lock; the estimate itself (a query, a request) runs with
        the lock released, so the other streams' events do not wait for it."""
        def unlocked() -> int | None:
            self._lock.release()
            try:
                return estimate()
            finally:
                self._lock.acquire()

        with self._lock:
            self.inner.stream_estimate(system, stream, unlocked)

    def rows_read(self, system: str, stream: str, rows: int) -> None:
        """Forwarded under the lock."""
        with self._lock:
            self.inner.rows_read(system, stream, rows)

    def stream_finished(self, summary: StreamSummary) -> None:
        """Forwarded under the lock."""
        with self._lock:
            self.inner.stream_finished(summary)

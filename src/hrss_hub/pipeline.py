"""extract → map → validate → publish, as public functions.

The CLI (``hrss-hub run``) and the Airflow DAGs call these. One run processes every
configured system; a failing system is recorded and the others still run. A stream's
state (watermark, processed files) and its counts are committed to the ledger in one
transaction, only after its rows are staged, so a failed run never moves a watermark.

A run holds the ledger's run locks of its systems (and of publishing) from the moment it
is recorded until it ends (:mod:`hrss_hub.run.lock`): a second run of the same systems
fails fast or waits, and a killed run is detected and closed by the next one, which also
removes its leftovers (:mod:`hrss_hub.run.leftovers`). The summary types live in the leaf
module :mod:`hrss_hub.run.summary` (re-exported here).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hrss_hub.config import HubConfig
from hrss_hub.connectors.base import StreamConfig, SystemConfig
from hrss_hub.errors import HubError, unknown_choice, with_step
from hrss_hub.ledger import AuditNote, BatchCounts, Ledger
from hrss_hub.ledger.locks import DETACHED_LEASE_SECONDS, LockOwner, run_locks, system_lock
from hrss_hub.mapping import parse_mapping
from hrss_hub.quality import report, results, validate
from hrss_hub.run import crashpoints, leftovers, parallel
from hrss_hub.run.context import NoProgress, Progress, RunContext
from hrss_hub.run.lock import Heartbeat, open_locked_run, renew_or_fail
from hrss_hub.run.stream import StreamRun
from hrss_hub.run.summary import RunSummary, StreamSummary, SystemSummary, system_status
from hrss_hub.standard.model import Standard, load_standard

__all__ = [
    "Progress", "RunSummary", "StreamSummary", "SystemSummary", "finish_run",
    "load_workspace_systems", "run", "run_one_stream", "run_stream", "run_system",
    "start_run",
]


def load_workspace_systems(cfg: HubConfig) -> dict[str, SystemConfig]:
    """Every ``connectors/*.yaml`` of the workspace, parsed."""
    from hrss_hub.connectors.config import load_workspace_systems

    return load_workspace_systems(cfg)


def run(cfg: HubConfig, systems: Iterable[str] | None = None, *, trigger: str = "cli",
        progress: Progress | None = None, wait_seconds: float = 0.0) -> RunSummary:
    """Run every configured system (or the named ones) and return the summary.

    Holds the run locks of those systems and of publishing while it works; another run
    holding one raises :class:`~hrss_hub.errors.RunLockedError` (after ``wait_seconds``
    of waiting for it).
    """
    progress = progress or NoProgress()
    standard = load_standard(cfg.standard_dir)
    all_systems = load_workspace_systems(cfg)
    names = list(systems) if systems else sorted(all_systems)
    for name in names:
        if name not in all_systems:
            raise unknown_choice("system", name, all_systems, dir=str(cfg.connectors_dir))
    _validate_mappings(cfg, standard, [all_systems[n] for n in names])
    ledger = Ledger.open(cfg.ledger_url)
    try:
        run_id = open_locked_run(ledger, cfg.hub_id, trigger,
                                 str(cfg.source_file) if cfg.source_file else None,
                                 run_locks(names, publish=True), wait_seconds=wait_seconds)
        try:
            with Heartbeat(ledger, run_id) as heartbeat:
                started = datetime.now(UTC)
                t0 = time.perf_counter()
                cleaned = leftovers.clean(cfg, ledger, run_id, names, publish=True)
                results = run_in_reference_order(cfg, [all_systems[n] for n in names],
                                                 standard, ledger, run_id, progress,
                                                 heartbeat.check,
                                                 workers=parallel.worker_count(cfg))
                summary = _summarize(run_id, started, time.perf_counter() - t0, results)
                note = cleaned.note()
                if note:
                    summary.notes.append(note)
                heartbeat.check()
                _close_run(cfg, ledger, summary)
                return summary
        finally:
            ledger.release_locks(run_id)
    finally:
        ledger.close()


def _summarize(run_id: str, started: datetime, seconds: float,
               results: list[SystemSummary]) -> RunSummary:
    failed = [s for s in results if s.status == "failed"]
    status = "succeeded" if not failed else ("failed" if len(failed) == len(results)
                                             else "partial")
    return RunSummary(run_id, status, started.isoformat(), round(seconds, 3), results)


def _errors(summary: RunSummary) -> str | None:
    errors = [f"{s.system}: {s.error}" for s in summary.systems if s.status == "failed"]
    if summary.publish_error:
        errors.append(f"publish: {summary.publish_error}")
    return "; ".join(errors) or None


def _close_run(cfg: HubConfig, ledger: Ledger, summary: RunSummary, *,
               publish: bool = True, write_report: bool = True) -> None:
    """Data Docs and quality results, publishing, the ledger record, the auditor report
    (an orchestrator with its own publish and report tasks passes ``False`` for both)."""
    assert cfg.exchange_root is not None
    # staging folders of the run are removed when the whole run ends, never while a
    # parallel stream (an Airflow mapped task) of the same run may still write into them
    _cleanup(cfg.exchange_root / ".staging" / summary.run_id)
    try:
        docs = validate.close_run(cfg, summary.run_id)
        summary.data_docs = str(docs) if docs else None
    except Exception as exc:  # noqa: BLE001 - Data Docs are a view: they degrade, never fail a run
        summary.notes.append(f"Data Docs not built: {type(exc).__name__}: {exc}")
    results.record(ledger, summary, cfg.reports_dir)
    crashpoints.hit("publish.started")
    if publish:
        try:
            after_run(cfg, ledger, summary)
        except HubError as exc:
            # the staged rows stay in <exchange>/.staged and are published by the next run
            summary.status = "failed"
            summary.publish_error = f"{exc} (staged data is kept and published by the next run)"
    crashpoints.hit("run.before_finish")
    ledger.finish_run(summary.run_id, summary.status, summary.to_dict(), _errors(summary))
    crashpoints.hit("run.finished")
    if write_report:
        summary.report = str(report.write_report(cfg, summary.run_id))


def after_run(cfg: HubConfig, ledger: Ledger, summary: RunSummary) -> None:
    """Steps that follow the streams of a run: the person master, cutting dataset versions
    and delivering them, record linkage and the supervision checks
    (:func:`hrss_hub.master.hooks.publish_run`)."""
    from hrss_hub.master.hooks import publish_run

    summary.publishing = publish_run(cfg, ledger, summary).to_dict()
    crashpoints.hit("publish.done")


# -- the same steps, one call each, for orchestrators (Airflow tasks pass ids, not data) --

def start_run(cfg: HubConfig, trigger: str = "airflow", systems: Iterable[str] = (),
              audit: AuditNote | None = None) -> str:
    """Open a run in the ledger holding the run locks of ``systems``; return its id.

    The run spans processes (one per Airflow task), so its lock has no owner process and
    a long lease that each task renews; its stream tasks share it by carrying the run id.
    ``audit`` is recorded with the run in one transaction and names the opener (say, an
    Airflow run): when an earlier attempt of that opener recorded it and its run is still
    running, that run is resumed and its locks renewed, so a task killed right after
    opening does not leave its own retry locked out for the lease.
    """
    ledger = Ledger.open(cfg.ledger_url)
    try:
        names = list(systems)
        locks = [system_lock(n) for n in names]
        run_id = _earlier_open_run(ledger, audit)
        if run_id is not None:
            ledger.acquire_locks(run_id, locks, owner=LockOwner.detached(),
                                 lease_seconds=DETACHED_LEASE_SECONDS)
        else:
            run_id = ledger.start_run(cfg.hub_id, trigger,
                                      str(cfg.source_file) if cfg.source_file else None,
                                      locks=locks, owner=LockOwner.detached(),
                                      lease_seconds=DETACHED_LEASE_SECONDS, audit=audit)
        if names:
            cleaned = leftovers.clean(cfg, ledger, run_id, names, publish=False)
            if cleaned.files:
                ledger.append_audit("hrss-hub", "run.leftovers_removed", run_id,
                                    {"files": cleaned.files[:50], "count": len(cleaned.files)})
        return run_id
    finally:
        ledger.close()


def _earlier_open_run(ledger: Ledger, audit: AuditNote | None) -> str | None:
    """The still-running run an earlier attempt recorded with the same audit subject."""
    if audit is None:
        return None
    for details in reversed(ledger.audit_events(audit.action, audit.subject)):
        run_id = details.get("run_id")
        info = ledger.get_run(run_id) if isinstance(run_id, str) else None
        if info is not None and info.status == "running":
            return info.id
    return None


def run_one_stream(cfg: HubConfig, system: str, stream: str, run_id: str,
                   progress: Progress | None = None) -> StreamSummary:
    """Extract → map → validate → stage one stream within an open run (``progress``: where
    its progress goes, e.g. the Airflow task log; by default nowhere).

    Raises ``HubError`` (with the step context) when the stream fails, so that an
    orchestrator retries it when the error is retriable. A retry that finds the stream
    already committed by an earlier attempt of the same run reports the committed counts
    instead of running it again (exactly-once accounting).
    """
    from hrss_hub.connectors.registry import create_connector

    standard = load_standard(cfg.standard_dir)
    sys_cfg = _load_one_system(cfg, system)
    stream_cfg = sys_cfg.stream(stream)
    _validate_mappings(cfg, standard, [sys_cfg])
    summary = StreamSummary(system, stream, (stream_cfg.mapping or {}).get("entity"))
    if stream_cfg.mapping is None:
        summary.status, summary.error = "skipped", "no mapping"
        return summary
    ledger = Ledger.open(cfg.ledger_url)
    try:
        renew_or_fail(ledger, run_id, DETACHED_LEASE_SECONDS)
        done = ledger.committed_batches([run_id]).get((run_id, system, stream))
        if done is not None:
            return recovered_summary(summary, done)
        t0 = time.perf_counter()
        progress = progress or NoProgress()
        progress.stream_started(system, stream)
        try:
            run_stream(cfg, sys_cfg, stream_cfg, create_connector(sys_cfg), standard, ledger,
                       run_id, summary, progress,
                       lambda: renew_or_fail(ledger, run_id, DETACHED_LEASE_SECONDS))
        except HubError as exc:
            raise with_step(exc, step="sync_stream", system=system, stream=stream,
                            run_id=run_id) from exc.__cause__
        summary.duration_seconds = round(time.perf_counter() - t0, 3)
        progress.stream_finished(summary)
        return summary
    finally:
        ledger.close()


def recovered_summary(summary: StreamSummary, done: BatchCounts) -> StreamSummary:
    """``summary`` filled from a stream's committed counts (a retried task's result)."""
    summary.read, summary.mapped, summary.published = done.read, done.mapped, done.published
    summary.quarantined, summary.filtered = done.quarantined, done.filtered
    details = done.details
    summary.quarantined_by_rule = dict(details.get("quarantined_by_rule") or {})
    summary.quarantine_file = details.get("quarantine_file")
    summary.published_released = int(details.get("published_released") or 0)
    summary.schema_drift = details.get("schema_drift")
    for warning in details.get("warnings") or []:
        summary.warn(str(warning))
    summary.recovered = True
    return summary


def _load_one_system(cfg: HubConfig, system: str) -> SystemConfig:
    """One system's config; a broken YAML of *another* system does not matter here."""
    from hrss_hub.connectors.config import load_system

    assert cfg.connectors_dir is not None
    for suffix in (".yaml", ".yml"):
        path = cfg.connectors_dir / f"{system}{suffix}"
        if path.exists():
            loaded = load_system(path, cfg.root, hub=cfg)
            if loaded.system == system:
                return loaded
    systems = load_workspace_systems(cfg)  # the file name differs from the system name
    if system not in systems:
        raise unknown_choice("system", system, systems, dir=str(cfg.connectors_dir))
    return systems[system]


def finish_run(cfg: HubConfig, run_id: str, streams: list[StreamSummary],
               *, failed_systems: dict[str, str] | None = None,
               publish: bool = True, write_report: bool = True) -> RunSummary:
    """Close a run opened with :func:`start_run`: publish what was staged and write the
    report (unless an orchestrator does those in tasks of their own: ``publish=False``,
    ``write_report=False``), record the summary, release the run's locks."""
    by_system: dict[str, SystemSummary] = {}
    for s in streams:
        by_system.setdefault(s.system, SystemSummary(s.system)).streams.append(s)
    for entry in by_system.values():
        entry.status, entry.error = system_status(entry.streams)
    for name, error in (failed_systems or {}).items():
        entry = by_system.setdefault(name, SystemSummary(name))
        entry.status = "failed"
        entry.error = "; ".join(filter(None, [entry.error, error]))
    ledger = Ledger.open(cfg.ledger_url)
    try:
        run = ledger.get_run(run_id)
        started = getattr(run, "started_at", None) or datetime.now(UTC)
        seconds = (datetime.now(UTC) - _aware(started)).total_seconds()
        summary = _summarize(run_id, _aware(started), seconds, list(by_system.values()))
        _close_run(cfg, ledger, summary, publish=publish, write_report=write_report)
        ledger.release_locks(run_id)
        return summary
    finally:
        ledger.close()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _validate_mappings(cfg: HubConfig, standard: Standard,
                       systems: list[SystemConfig]) -> None:
    """Refuse to start when any mapping is wrong: every problem, with file and YAML path."""
    from hrss_hub.errors import ConfigError
    from hrss_hub.mapping.check import check_spec

    problems = []
    for system in systems:
        for index, stream in enumerate(system.streams):
            if stream.mapping is None:
                continue
            try:
                spec = parse_mapping(stream.mapping, str(system.source_file),
                                     f"streams[{index}].mapping")
            except HubError as exc:
                problems.append(str(exc))
                continue
            problems.extend(str(p) for p in check_spec(spec, standard))
    if problems:
        raise ConfigError(f"{len(problems)} mapping problem(s):\n  " + "\n  ".join(problems),
                          {}, "fix the connector files, then check with: hrss-hub standard check")


def run_in_reference_order(cfg: HubConfig, systems: list[SystemConfig], standard: Standard,
                           ledger: Ledger, run_id: str, progress: Progress,
                           guard: Callable[[], None] | None = None, *,
                           workers: int = 1) -> list[SystemSummary]:
    """Run every stream of ``systems``, the streams of referenced entities first.

    A contribution's reference check sees the persons this run staged only if the person
    streams ran before it (quality/references.py), whichever system they belong to: the
    streams run in phases (:func:`~hrss_hub.quality.references.stream_phases`), each phase
    system by system — or, with ``workers`` > 1, up to that many jobs of the phase at
    once (:mod:`hrss_hub.run.parallel`: same results). Summaries list streams in file
    order.
    """
    from hrss_hub.quality.references import referenced, stream_phases
    from hrss_hub.quality.suites import default_dir, load_suites

    try:
        suites = load_suites(default_dir(cfg.expectations_dir), standard)
    except HubError:
        suites = {}  # file order; each stream then reports the broken suite itself
    pairs = [((s.system, st.name), (st.mapping or {}).get("entity"))
             for s in systems for st in s.streams]
    merged = {s.system: SystemSummary(s.system) for s in systems}
    broken: set[str] = set()  # systems whose connector could not be created

    def run_part(system: SystemConfig, only: set[str] | None) -> None:
        part = run_system(cfg, system, standard, ledger, run_id, progress, guard, only=only)
        total = merged[system.system]
        total.streams.extend(part.streams)
        if part.status == "failed" and not part.streams:
            broken.add(system.system)  # the connector itself: its error stands
            total.status, total.error = part.status, part.error

    if workers <= 1:
        for phase in stream_phases(pairs, suites):
            for system in systems:
                only = {name for sys_name, name in phase if sys_name == system.system}
                if only and system.system not in broken:
                    run_part(system, only)
    else:
        _run_phases_in_parallel(cfg, systems, standard, ledger, run_id, progress, guard,
                                workers, stream_phases(pairs, suites), dict(pairs),
                                lambda e: {r for r, _ in referenced(suites.get(e, ()))},
                                merged, broken)
    for system in systems:
        if not system.streams:
            run_part(system, None)  # still reports a connector that cannot be created
    for system in systems:
        total = merged[system.system]
        order = {st.name: i for i, st in enumerate(system.streams)}
        total.streams.sort(key=lambda s: order.get(s.stream, 0))
        if system.system not in broken:
            total.status, total.error = system_status(total.streams)
    return [merged[s.system] for s in systems]


def _run_phases_in_parallel(cfg: HubConfig, systems: list[SystemConfig], standard: Standard,
                            ledger: Ledger, run_id: str, progress: Progress,
                            guard: Callable[[], None] | None, workers: int,
                            phases: list[list[tuple[str, str]]],
                            entity_of: dict[tuple[str, str], str | None],
                            references: Callable[[str], set[str]],
                            merged: dict[str, SystemSummary], broken: set[str]) -> None:
    """The phases one after the other, the jobs of each (:func:`parallel.plan_phase`)
    ``workers`` at a time; results go into ``merged`` / ``broken`` as serially."""
    by_name = {s.system: s for s in systems}
    shown = parallel.LockedProgress(progress)
    lock = threading.Lock()  # Great Expectations serializes its own calls (quality/gx.py)

    def work(job: parallel.Job) -> None:
        for part in job:
            with lock:
                if part.system in broken:
                    continue
            result = run_system(cfg, by_name[part.system], standard, ledger, run_id, shown,
                                guard, only=part.streams)
            with lock:
                total = merged[part.system]
                total.streams.extend(result.streams)
                if result.status == "failed" and not result.streams:
                    broken.add(part.system)
                    total.status, total.error = result.status, result.error

    names = [s.system for s in systems]
    for phase in phases:
        with lock:
            todo = [(s, st) for s, st in phase if s not in broken]
        parallel.run_jobs(parallel.plan_phase(todo, entity_of, references, names), work,
                          workers)


def run_system(cfg: HubConfig, system: SystemConfig, standard: Standard, ledger: Ledger,
               run_id: str, progress: Progress,
               guard: Callable[[], None] | None = None, *,
               only: Iterable[str] | None = None) -> SystemSummary:
    """Run every stream of one system (or the streams named in ``only``); errors are
    recorded, not raised (a lost run lock, :class:`~hrss_hub.errors.RunLockLostError`,
    stops the run)."""
    from hrss_hub.connectors.registry import create_connector
    from hrss_hub.errors import RunLockLostError

    result = SystemSummary(system.system)
    try:
        connector = create_connector(system)
    except HubError as exc:
        result.status, result.error = "failed", str(exc)
        return result
    selected = None if only is None else set(only)
    for stream in system.streams:
        if selected is not None and stream.name not in selected:
            continue
        summary = StreamSummary(system.system, stream.name,
                                (stream.mapping or {}).get("entity"))
        progress.stream_started(system.system, stream.name)
        t0 = time.perf_counter()
        try:
            if stream.mapping is None:
                summary.status = "skipped"
                summary.error = "no mapping"
            else:
                run_stream(cfg, system, stream, connector, standard, ledger, run_id, summary,
                           progress, guard)
        except RunLockLostError:
            raise
        except HubError as exc:
            summary.status, summary.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one system must not stop the others
            summary.status = "failed"
            summary.error = f"internal error {type(exc).__name__}: {exc}"
            summary.error += "\n" + traceback.format_exc(limit=8)
        summary.duration_seconds = round(time.perf_counter() - t0, 3)
        progress.stream_finished(summary)
        result.streams.append(summary)
    result.status, result.error = system_status(result.streams)
    return result


def run_stream(cfg: HubConfig, system: SystemConfig, stream: StreamConfig, connector: Any,
               standard: Standard, ledger: Ledger, run_id: str, summary: StreamSummary,
               progress: Progress, guard: Callable[[], None] | None = None) -> None:
    """Extract, map, gate, stage and publish one stream (:class:`StreamRun`'s steps);
    its state and counts are committed last, into ``summary``.

    ``guard`` is called before the commit (the run-lock check): when it raises, nothing
    of the stream is committed and the next run redoes it from the same state.
    """
    ctx = RunContext(cfg, standard, ledger, run_id, progress, guard or _no_guard)
    StreamRun(ctx, system, stream, connector, summary).run()


def _no_guard() -> None:
    """No run-lock check (a caller holding no lock of its own)."""


def _cleanup(staging: Path) -> None:
    # remove empty staging folders; leftovers of crashed runs stay for inspection
    for path in sorted(staging.glob("**/*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if staging.exists() and not any(staging.iterdir()):
        staging.rmdir()

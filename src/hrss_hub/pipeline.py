"""extract → map → validate → publish, as public functions.

The CLI (``hrss-hub run``) and the Airflow DAGs call these. One run processes every
configured system; a failing system is recorded and the others still run. A stream's
state (watermark, processed files) is committed to the ledger only after its rows are
published, so a failed run never moves a watermark.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hrss_hub.config import HubConfig
from hrss_hub.connectors.base import StreamConfig, SystemConfig
from hrss_hub.connectors.updated_at import source_updated_at
from hrss_hub.errors import HubError, unknown_choice
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.staging import ParquetSink, publish_files
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.quality import report, reprocess, results, thresholds, validate
from hrss_hub.quality.gate import QUARANTINE_SCHEMA, RowGate, rejects_table
from hrss_hub.standard.model import Standard, load_standard


@dataclass
class StreamSummary:
    """What happened to one stream in one run (the numbers of the summary table)."""

    system: str
    stream: str
    entity: str | None
    read: int = 0
    mapped: int = 0
    published: int = 0
    quarantined: int = 0
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    filtered: int = 0
    duration_seconds: float = 0.0
    status: str = "succeeded"
    error: str | None = None
    quarantine_file: str | None = None
    quality_warning: str | None = None
    published_released: int = 0  # of ``published``: rows a steward released from quarantine
    schema_drift: str | None = None  # the accepted (evolve) or ignored schema change


@dataclass
class SystemSummary:
    """One system's streams and outcome."""

    system: str
    status: str = "succeeded"
    error: str | None = None
    streams: list[StreamSummary] = field(default_factory=list)


@dataclass
class RunSummary:
    """A whole run."""

    run_id: str
    status: str
    started_at: str
    duration_seconds: float
    systems: list[SystemSummary]
    data_docs: str | None = None
    report: str | None = None
    publish_error: str | None = None
    notes: list[str] = field(default_factory=list)
    publishing: dict[str, Any] | None = None  # dataset versions cut and deliveries made

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``hrss-hub run --json``)."""
        return asdict(self)

    @property
    def failed(self) -> bool:
        """True when at least one system, or publishing, failed."""
        return bool(self.publish_error) or any(s.status == "failed" for s in self.systems)


class Progress(Protocol):
    """Receives progress events (the CLI renders them as bars or plain lines)."""

    def stream_started(self, system: str, stream: str) -> None: ...

    def rows_read(self, system: str, stream: str, rows: int) -> None: ...

    def stream_finished(self, summary: StreamSummary) -> None: ...


class _NoProgress:
    def stream_started(self, system: str, stream: str) -> None:
        pass

    def rows_read(self, system: str, stream: str, rows: int) -> None:
        pass

    def stream_finished(self, summary: StreamSummary) -> None:
        pass


def load_workspace_systems(cfg: HubConfig) -> dict[str, SystemConfig]:
    """Every ``connectors/*.yaml`` of the workspace, parsed."""
    from hrss_hub.connectors.config import load_workspace_systems

    return load_workspace_systems(cfg)


def run(cfg: HubConfig, systems: Iterable[str] | None = None, *, trigger: str = "cli",
        progress: Progress | None = None) -> RunSummary:
    """Run every configured system (or the named ones) and return the summary."""
    from hrss_hub.ledger import Ledger

    progress = progress or _NoProgress()
    standard = load_standard(cfg.standard_dir)
    all_systems = load_workspace_systems(cfg)
    names = list(systems) if systems else sorted(all_systems)
    for name in names:
        if name not in all_systems:
            raise unknown_choice("system", name, all_systems, dir=str(cfg.connectors_dir))
    _validate_mappings(cfg, standard, [all_systems[n] for n in names])
    ledger = Ledger.open(cfg.ledger_url)
    try:
        run_id = ledger.start_run(cfg.hub_id, trigger,
                                  str(cfg.source_file) if cfg.source_file else None)
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        results = [
            run_system(cfg, all_systems[name], standard, ledger, run_id, progress)
            for name in names
        ]
        summary = _summarize(run_id, started, time.perf_counter() - t0, results)
        _close_run(cfg, ledger, summary)
        return summary
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


def _close_run(cfg: HubConfig, ledger: Any, summary: RunSummary, *,
               publish: bool = True) -> None:
    """Data Docs and quality results, publishing, the ledger record, the auditor report."""
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
    if publish:
        try:
            after_run(cfg, ledger, summary)
        except HubError as exc:
            # the staged rows stay in <exchange>/.staged and are published by the next run
            summary.status = "failed"
            summary.publish_error = f"{exc} (staged data is kept and published by the next run)"
    ledger.finish_run(summary.run_id, summary.status, summary.to_dict(), _errors(summary))
    summary.report = str(report.write_report(cfg, summary.run_id))


def after_run(cfg: HubConfig, ledger: Any, summary: RunSummary) -> None:
    """Steps that follow the streams of a run: cutting dataset versions and delivering them
    (the exchange package), when it provides ``publish_pending``."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("hrss_hub.exchange.versions") is None:
        return
    versions = importlib.import_module("hrss_hub.exchange.versions")
    publish = getattr(versions, "publish_pending", None)
    if publish is not None:
        report = publish(cfg, ledger, summary)
        if hasattr(report, "to_dict"):
            summary.publishing = report.to_dict()


# -- the same steps, one call each, for orchestrators (Airflow tasks pass ids, not data) --

def start_run(cfg: HubConfig, trigger: str = "airflow") -> str:
    """Open a run in the ledger and return its id."""
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(cfg.ledger_url)
    try:
        return ledger.start_run(cfg.hub_id, trigger,
                                str(cfg.source_file) if cfg.source_file else None)
    finally:
        ledger.close()


def run_one_stream(cfg: HubConfig, system: str, stream: str, run_id: str) -> StreamSummary:
    """Extract → map → validate → stage one stream within an open run.

    Raises ``HubError`` when the stream fails, so that an orchestrator retries it.
    """
    from hrss_hub.connectors.registry import create_connector
    from hrss_hub.ledger import Ledger

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
        t0 = time.perf_counter()
        run_stream(cfg, sys_cfg, stream_cfg, create_connector(sys_cfg), standard, ledger,
                   run_id, summary, _NoProgress())
        summary.duration_seconds = round(time.perf_counter() - t0, 3)
        return summary
    finally:
        ledger.close()


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
               publish: bool = True) -> RunSummary:
    """Close a run opened with :func:`start_run`: publish what was staged (unless an
    orchestrator publishes separately: ``publish=False``), record the summary."""
    from hrss_hub.ledger import Ledger

    by_system: dict[str, SystemSummary] = {}
    for s in streams:
        entry = by_system.setdefault(s.system, SystemSummary(s.system))
        entry.streams.append(s)
        if s.status == "failed":
            entry.status, entry.error = "failed", s.error
    for name, error in (failed_systems or {}).items():
        entry = by_system.setdefault(name, SystemSummary(name))
        entry.status, entry.error = "failed", error
    ledger = Ledger.open(cfg.ledger_url)
    try:
        run = ledger.get_run(run_id)
        started = getattr(run, "started_at", None) or datetime.now(UTC)
        seconds = (datetime.now(UTC) - _aware(started)).total_seconds()
        summary = _summarize(run_id, _aware(started), seconds, list(by_system.values()))
        _close_run(cfg, ledger, summary, publish=publish)
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


def run_system(cfg: HubConfig, system: SystemConfig, standard: Standard, ledger: Any,
               run_id: str, progress: Progress) -> SystemSummary:
    """Run every stream of one system; errors are recorded, not raised."""
    from hrss_hub.connectors.registry import create_connector

    result = SystemSummary(system.system)
    try:
        connector = create_connector(system)
    except HubError as exc:
        result.status, result.error = "failed", str(exc)
        return result
    for stream in system.streams:
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
                           progress)
        except HubError as exc:
            summary.status, summary.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one system must not stop the others
            summary.status = "failed"
            summary.error = f"internal error {type(exc).__name__}: {exc}"
            summary.error += "\n" + traceback.format_exc(limit=8)
        summary.duration_seconds = round(time.perf_counter() - t0, 3)
        progress.stream_finished(summary)
        result.streams.append(summary)
    failed = [s for s in result.streams if s.status == "failed"]
    if failed:
        result.status = "failed"
        result.error = "; ".join(f"{s.stream}: {s.error}" for s in failed)
    return result


def run_stream(cfg: HubConfig, system: SystemConfig, stream: StreamConfig, connector: Any,
               standard: Standard, ledger: Any, run_id: str, summary: StreamSummary,
               progress: Progress) -> None:
    """Extract, map, validate and publish one stream; commit its state last."""
    from hrss_hub.connectors import drift

    spec = parse_mapping(stream.mapping, str(system.source_file),
                         f"streams[{system.streams.index(stream)}].mapping")
    compiled = compile_mapping(spec, standard)
    entity = compiled.entity
    schema = connector.discover()[stream.name]
    old = ledger.last_schema(system.system, stream.name)
    change = drift.compare(old, schema)
    drift_report = drift.apply_policy(change, stream.drift, system.system, stream.name)
    if drift_report["changed"]:
        summary.schema_drift = f"{stream.drift}: {drift_report['description']}"

    state_before = ledger.get_state(system.system, stream.name)
    validator = validate.stream_validator(cfg, standard, run_id, entity, system.system,
                                          stream.name)
    # the gate enforces the suites the validator counts (severity decides quarantine/warn)
    gate = RowGate(entity, standard, run_id, system.system, stream.name, datetime.now(UTC),
                   suites=validator.suites, references=validator.ctx.references)
    assert cfg.exchange_root is not None and cfg.quarantine_dir is not None
    staging = cfg.exchange_root / ".staging" / run_id
    stem = f"{system.system}.{stream.name}.{_state_tag(state_before)}"
    out_schema = entity_schema(entity)  # with source_updated_at (which record wins)
    sink = ParquetSink(staging / entity.name, stem, out_schema)
    quarantine_tables: list[pa.Table] = []
    by_rule: Counter[str] = Counter()
    state = state_before
    chunks = 0
    try:
        for chunk in connector.read(stream.name, state_before):
            chunks += 1
            gate.extracted_at = datetime.now(UTC)
            batch = chunk.batch
            summary.read += batch.num_rows + len(chunk.rejects)
            for note in chunk.drift:  # e.g. an older file lacking a column (drift: evolve)
                summary.schema_drift = "; ".join(filter(None, [summary.schema_drift, note]))
            progress.rows_read(system.system, stream.name, batch.num_rows + len(chunk.rejects))
            if chunk.rejects:
                by_rule["malformed_record"] += len(chunk.rejects)
                quarantine_tables.append(rejects_table(
                    [(r.location, r.reason, r.raw) for r in chunk.rejects],
                    run_id, system.system, stream.name, entity.name))
            if batch.num_rows:
                mapped = compiled.apply(batch)
                mapped.source_updated_at = source_updated_at(
                    batch, stream.updated_at_column, explicit=bool(stream.updated_at),
                    where=f"{system.system}.{stream.name}")
                summary.mapped += batch.num_rows
                verdict = gate.evaluate(mapped)
                validator.add(mapped, verdict)
                sink.write(verdict.published)
                summary.filtered += verdict.filtered
                by_rule.update(verdict.rule_counts)
                if verdict.quarantined.num_rows:
                    quarantine_tables.append(verdict.quarantined)
            state = chunk.state
        released = _released_rows(cfg, ledger, system.system, stream.name, entity, out_schema,
                                   run_id, summary)
        if released is not None:
            sink.write(released.table)
        staged = sink.close()
        summary.published = sum(f.rows for f in staged)
        summary.quarantined = sum(t.num_rows for t in quarantine_tables)
        summary.quarantined_by_rule = dict(sorted(by_rule.items()))
        validate.finish_stream(validator)
        # a stream over its critical-failure threshold fails before anything is published
        summary.quality_warning = thresholds.enforce(
            stream.threshold, summary, thresholds.critical_rules(cfg, standard, entity.name))
    except BaseException:
        sink.close()
        shutil.rmtree(staging / entity.name, ignore_errors=True)
        raise
    if staged:
        publish_files(cfg.exchange_root, entity.name, out_schema, staged, run_id=run_id,
                      system=system.system, stream=stream.name,
                      standard_version=standard.version,
                      hub={"hub_id": cfg.hub_id, "level": cfg.level, "division": cfg.division},
                      quality={"read": summary.read, "published": summary.published,
                               "quarantined": summary.quarantined,
                               "filtered": summary.filtered,
                               "quarantined_by_rule": summary.quarantined_by_rule})
    if quarantine_tables:
        qdir = cfg.quarantine_dir / run_id / system.system
        qdir.mkdir(parents=True, exist_ok=True)
        qpath = qdir / f"{stream.name}.parquet"
        pq.write_table(pa.concat_tables(quarantine_tables).cast(QUARANTINE_SCHEMA), qpath,
                       compression="zstd")
        summary.quarantine_file = str(qpath)
    if chunks:
        ledger.commit_stream(system.system, stream.name, run_id, state,
                             schema=(drift.schema_to_json(schema), drift.fingerprint(schema)))
    elif summary.schema_drift:  # an accepted change is the reference even before new rows
        ledger.save_schema(system.system, stream.name, drift.schema_to_json(schema),
                           drift.fingerprint(schema), run_id)
    if released is not None:
        for key in released.keys:
            ledger.append_audit("hrss-hub", "quarantine.republished",
                                reprocess.republished_prefix(system.system, entity.name) + key,
                                {"run_id": run_id, "stream": stream.name})
    if chunks or released is not None:
        ledger.record_batch(run_id=run_id, system=system.system, stream=stream.name, seq=0,
                            rows_read=summary.read, rows_mapped=summary.mapped,
                            rows_published=summary.published,
                            rows_quarantined=summary.quarantined,
                            rows_filtered=summary.filtered)


@dataclass
class _Released:
    keys: list[str]
    table: pa.Table


def _released_rows(cfg: HubConfig, ledger: Any, system: str, stream: str, entity: Any,
                   out_schema: pa.Schema, run_id: str,
                   summary: StreamSummary) -> _Released | None:
    """Rows a steward released from quarantine since the last run, with lineage, ready to
    publish. Rows still lacking a required value cannot enter the standard's schema: they
    stay quarantined and the summary says so."""
    done = {s.rsplit("/", 1)[-1] for s in ledger.audit_subjects(
        "quarantine.republished", reprocess.republished_prefix(system, entity.name))}
    found = reprocess.released_with_keys(cfg, ledger, system, stream, entity, skip=done)
    if found is None:
        return None
    keys, table = found
    n = table.num_rows
    lineage = {
        "source_system": pa.repeat(pa.scalar(system), n),
        "source_key": pa.array(keys, pa.string()),
        "run_id": pa.repeat(pa.scalar(run_id), n),
        "extracted_at": pa.repeat(pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC")), n),
        # the quarantine keeps mapped fields only: a released row's update time is unknown
        "source_updated_at": pa.nulls(n, pa.timestamp("us", tz="UTC")),
    }
    columns = [table.column(f.name) if f.name in table.column_names else lineage[f.name]
               for f in out_schema]
    full = pa.Table.from_arrays(columns, names=out_schema.names)
    ok = pa.array([True] * n)
    for f in out_schema:
        if not f.nullable:
            ok = pc.and_(ok, pc.is_valid(full.column(f.name)))
    blocked = n - (pc.sum(ok).as_py() or 0)
    if blocked:
        summary.quality_warning = (f"{blocked} released row(s) still lack a required value "
                                   "and stay quarantined")
    publishable = full.filter(ok).cast(out_schema)
    if not publishable.num_rows:
        return None
    kept = [k for k, good in zip(keys, ok.to_pylist(), strict=True) if good]
    summary.published_released = len(kept)
    return _Released(kept, publishable)


def _state_tag(state: dict[str, Any] | None) -> str:
    import hashlib
    import json

    text = json.dumps(state or {}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _cleanup(staging: Path) -> None:
    # remove empty staging folders; leftovers of crashed runs stay for inspection
    for path in sorted(staging.glob("**/*"), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if staging.exists() and not any(staging.iterdir()):
        staging.rmdir()

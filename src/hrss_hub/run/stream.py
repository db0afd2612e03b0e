"""One stream of one run, as public steps: extract → map → gate → stage → publish.

:class:`StreamRun` holds what the steps share (the compiled mapping, the row gate, the
staging sink, the counts); each step is a method that can be called on its own, e.g. by a
test, a benchmark or a future orchestrator that splits them (as dlt's extract / normalize
/ load are). :meth:`StreamRun.run` is the steps in order.

The stream's state (watermark, processed files), schema and counts are committed to the
ledger in one transaction, by :meth:`StreamRun.publish`, only after its rows are staged and
its quarantine is written: a run killed at any point before leaves nothing committed, and
the next run redoes the stream from the same state (its leftovers removed by
:mod:`hrss_hub.run.leftovers`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.connectors import drift
from hrss_hub.connectors.base import (
    Chunk,
    Connector,
    StreamConfig,
    SystemConfig,
    estimate_rows,
)
from hrss_hub.connectors.updated_at import source_updated_at
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.staging import ParquetSink, StagedFile, publish_files
from hrss_hub.ledger import BatchCounts
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.mapping.compile import MappedBatch
from hrss_hub.quality import reprocess, thresholds, validate
from hrss_hub.quality.gate import GateResult, RowGate, rejects_table
from hrss_hub.quality.spool import QuarantineSpool
from hrss_hub.run import crashpoints
from hrss_hub.run.context import RunContext
from hrss_hub.run.summary import StreamSummary
from hrss_hub.standard.model import Entity
from hrss_hub.threads import prefetch

STAGING_DIR = ".staging"


@dataclass(frozen=True)
class Released:
    """Rows a steward released from quarantine, ready to publish, with their keys."""

    keys: list[str]
    table: pa.Table


class StreamRun:
    """The steps of one stream in one run (see the module docstring).

    The counts accumulate in :attr:`summary`; its warnings are appended, never replaced.
    """

    def __init__(self, ctx: RunContext, system: SystemConfig, stream: StreamConfig,
                 connector: Connector, summary: StreamSummary | None = None) -> None:
        if stream.mapping is None:
            raise ValueError(f"stream {system.system}.{stream.name} has no mapping")
        self.ctx = ctx
        self.system = system
        self.stream = stream
        self.connector = connector
        self.summary = summary or StreamSummary(system.system, stream.name,
                                                stream.mapping.get("entity"))
        spec = parse_mapping(stream.mapping, str(system.source_file),
                             f"streams[{system.streams.index(stream)}].mapping")
        self.compiled = compile_mapping(spec, ctx.standard)
        self.entity: Entity = self.compiled.entity
        self.out_schema = entity_schema(self.entity)  # with source_updated_at (which record wins)
        self.schema: pa.Schema | None = None
        self.state_before: dict[str, Any] | None = None
        self.state: dict[str, Any] | None = None
        self.chunks = 0
        self.by_rule: Counter[str] = Counter()
        self._spool: QuarantineSpool | None = None
        self.staged: list[StagedFile] = []
        self.released: Released | None = None
        self._validator: Any = None
        self._gate: RowGate | None = None
        self._sink: ParquetSink | None = None

    # -- the steps ---------------------------------------------------------------------

    def discover(self) -> None:
        """The source schema against the last one (the stream's drift policy decides),
        the committed state, the validator, the row gate and the staging sink."""
        cfg, sys_name, name = self.ctx.cfg, self.system.system, self.stream.name
        schema = self.connector.discover()[name]
        self.schema = schema
        change = drift.compare(self.ctx.ledger.last_schema(sys_name, name), schema)
        report = drift.apply_policy(change, self.stream.drift, sys_name, name)
        if report["changed"]:
            self.summary.schema_drift = f"{self.stream.drift}: {report['description']}"
        self.state_before = self.ctx.ledger.get_state(sys_name, name)
        self.state = self.state_before
        self._validator = validate.stream_validator(cfg, self.ctx.standard, self.ctx.run_id,
                                                    self.entity, sys_name, name)
        # the gate enforces the suites the validator counts (severity: quarantine/warn)
        self._gate = RowGate(self.entity, self.ctx.standard, self.ctx.run_id, sys_name, name,
                             datetime.now(UTC), suites=self._validator.suites,
                             references=self._validator.ctx.references)
        stem = f"{sys_name}.{name}.{state_tag(self.state_before)}"
        self._sink = ParquetSink(self.staging_dir / self.entity.name, stem, self.out_schema,
                                 background=True)
        assert cfg.quarantine_dir is not None
        # quarantined rows go to their file batch by batch (memory flat in the table size)
        self._spool = QuarantineSpool(reprocess.quarantine_path(
            cfg.quarantine_dir, self.ctx.run_id, sys_name, name))

    def extract(self) -> Iterator[Chunk]:
        """The source's chunks after the committed state; counts what was read, and
        quarantines the records the connector could not parse."""
        crashpoints.hit("extract.started")
        assert self._spool is not None, "call discover() first"
        summary, run_id = self.summary, self.ctx.run_id
        self.ctx.progress.stream_estimate(
            self.system.system, self.stream.name,
            functools.partial(estimate_rows, self.connector, self.stream.name,
                              self.state_before))
        # the next chunk is read (driver, Arrow kernels: mostly outside the GIL) while this
        # one is mapped, checked and staged; two wait at most
        for chunk in prefetch(self.connector.read(self.stream.name, self.state_before),
                              depth=2):
            self.chunks += 1
            crashpoints.hit("extract.chunk")
            rows = chunk.batch.num_rows + len(chunk.rejects)
            summary.read += rows
            for note in chunk.drift:  # e.g. an older file lacking a column (drift: evolve)
                summary.schema_drift = "; ".join(filter(None, [summary.schema_drift, note]))
            self.ctx.progress.rows_read(self.system.system, self.stream.name, rows)
            if chunk.rejects:
                self.by_rule["malformed_record"] += len(chunk.rejects)
                self._spool.add(rejects_table(
                    [(r.location, r.reason, r.raw) for r in chunk.rejects],
                    run_id, self.system.system, self.stream.name, self.entity.name))
            yield chunk
            self.state = chunk.state
        crashpoints.hit("extract.done")

    def map(self, batch: pa.RecordBatch) -> MappedBatch:
        """Source columns → the standard entity's columns (the connector file's mapping)."""
        mapped = self.compiled.apply(batch)
        mapped.source_updated_at = source_updated_at(
            batch, self.stream.updated_at_column, explicit=bool(self.stream.updated_at),
            where=f"{self.system.system}.{self.stream.name}")
        self.summary.mapped += batch.num_rows
        return mapped

    def gate(self, mapped: MappedBatch) -> GateResult:
        """Every row against the standard's rules and the suites: published rows go to the
        staging sink, quarantined ones to the stream's quarantine."""
        assert self._gate is not None and self._sink is not None and self._spool is not None, \
            "call discover() first"
        self._gate.extracted_at = datetime.now(UTC)
        verdict = self._gate.evaluate(mapped)
        self._validator.add(mapped, verdict)
        self._sink.write(verdict.published)
        self.summary.filtered += verdict.filtered
        self.by_rule.update(verdict.rule_counts)
        self._spool.add(verdict.quarantined)
        return verdict

    def stage(self) -> list[StagedFile]:
        """Released rows joined in, the staging files closed, the stream's validation
        written and its threshold checked (a stream over its critical-failure threshold
        fails here, before anything is handed over)."""
        assert self._sink is not None and self._spool is not None, "call discover() first"
        summary, cfg = self.summary, self.ctx.cfg
        self.released = released_rows(self.ctx, self.system.system, self.stream.name,
                                      self.entity, self.out_schema, summary)
        if self.released is not None:
            self._sink.write(self.released.table)
        self.staged = self._sink.close()
        summary.published = sum(f.rows for f in self.staged)
        summary.quarantined = self._spool.rows
        summary.quarantined_by_rule = dict(sorted(self.by_rule.items()))
        validate.finish_stream(self._validator)
        summary.warn(thresholds.enforce(
            self.stream.threshold, summary,
            thresholds.critical_rules(cfg, self.ctx.standard, self.entity.name)))
        return self.staged

    def publish(self) -> StreamSummary:
        """Hand the staged files to the publisher (``<exchange>/.staged``), write the
        quarantine file (atomically, once per run and stream), then commit state, schema
        and counts in one ledger transaction. Returns the stream's summary."""
        cfg, ledger, summary = self.ctx.cfg, self.ctx.ledger, self.summary
        sys_name, name, run_id = self.system.system, self.stream.name, self.ctx.run_id
        assert cfg.exchange_root is not None and cfg.quarantine_dir is not None
        assert self._spool is not None, "call discover() first"
        if self.staged:
            try:
                publish_files(cfg.exchange_root, self.entity.name, self.out_schema,
                              self.staged, run_id=run_id, system=sys_name, stream=name,
                              standard_version=self.ctx.standard.version,
                              hub={"hub_id": cfg.hub_id, "level": cfg.level,
                                   "division": cfg.division},
                              quality={"read": summary.read, "published": summary.published,
                                       "quarantined": summary.quarantined,
                                       "filtered": summary.filtered,
                                       "quarantined_by_rule": summary.quarantined_by_rule})
            except BaseException:
                self._spool.discard()
                raise
            crashpoints.hit("stage.written")
        # one file per (run, stream), made atomically from the spool: a retry of the same
        # stream in the same run replaces it; a killed run's file is removed by the next
        # run unless the ledger has this stream's commit (leftovers.clean)
        qpath = self._spool.close()
        if qpath is not None:
            summary.quarantine_file = str(qpath)
        self.ctx.guard()
        crashpoints.hit("ledger.before_commit")
        prefix = reprocess.republished_prefix(sys_name, self.entity.name)
        republished = [("hrss-hub", "quarantine.republished", prefix + key,
                        {"run_id": run_id, "stream": name})
                       for key in (self.released.keys if self.released is not None else [])]
        if self.chunks or republished or summary.schema_drift:
            schema = self.schema
            assert schema is not None
            # state, schema, counts and the released rows' audit in ONE transaction: a
            # retry or a rerun after a kill sees all of it or none of it
            ledger.commit_stream(
                sys_name, name, run_id, self.state if self.chunks else None,
                schema=((drift.schema_to_json(schema), drift.fingerprint(schema))
                        if self.chunks or summary.schema_drift else None),
                batch=BatchCounts(summary.read, summary.mapped, summary.published,
                                  summary.quarantined, summary.filtered, details(summary)),
                audit=republished)
        crashpoints.hit("ledger.committed")
        crashpoints.hit("ledger.batch_recorded")
        return summary

    def run(self) -> StreamSummary:
        """Every step in order; on failure the stream's staging files are removed and
        nothing is committed."""
        self.discover()
        try:
            for chunk in self.extract():
                if chunk.batch.num_rows:
                    self.gate(self.map(chunk.batch))
            self.stage()
        except BaseException:
            self.abort()
            raise
        return self.publish()

    def abort(self) -> None:
        """Close and remove this stream's staging files (after a failure); its GX work
        stops."""
        if self._validator is not None:
            validate.abandon_stream(self._validator)
        if self._sink is not None:
            self._sink.close()
        if self._spool is not None:
            self._spool.discard()
        shutil.rmtree(self.staging_dir / self.entity.name, ignore_errors=True)

    @property
    def staging_dir(self) -> Path:
        """``<exchange>/.staging/<run id>``: where the run's rows are written first."""
        assert self.ctx.cfg.exchange_root is not None
        return self.ctx.cfg.exchange_root / STAGING_DIR / self.ctx.run_id


def details(summary: StreamSummary) -> dict[str, Any]:
    """The parts of a stream summary beside its counts that a retry must report too."""
    return {"quarantined_by_rule": summary.quarantined_by_rule,
            "quarantine_file": summary.quarantine_file,
            "published_released": summary.published_released,
            "schema_drift": summary.schema_drift, "warnings": list(summary.warnings)}


def released_rows(ctx: RunContext, system: str, stream: str, entity: Entity,
                  out_schema: pa.Schema, summary: StreamSummary) -> Released | None:
    """Rows a steward released from quarantine since the last run, with lineage, ready to
    publish. Rows still lacking a required value cannot enter the standard's schema: they
    stay quarantined and the summary gets a warning (appended to the others)."""
    ledger = ctx.ledger
    done = {s.rsplit("/", 1)[-1] for s in ledger.audit_subjects(
        "quarantine.republished", reprocess.republished_prefix(system, entity.name))}
    found = reprocess.released_with_keys(ctx.cfg, ledger, system, stream, entity, skip=done)
    if found is None:
        return None
    keys, table = found
    n = table.num_rows
    lineage = {
        "source_system": pa.repeat(pa.scalar(system), n),
        "source_key": pa.array(keys, pa.string()),
        "run_id": pa.repeat(pa.scalar(ctx.run_id), n),
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
        summary.warn(f"{blocked} released row(s) still lack a required value and stay "
                     "quarantined")
    publishable = full.filter(ok).cast(out_schema)
    if not publishable.num_rows:
        return None
    kept = [k for k, good in zip(keys, ok.to_pylist(), strict=True) if good]
    summary.published_released = len(kept)
    return Released(kept, publishable)


def state_tag(state: dict[str, Any] | None) -> str:
    """A short hash of a stream state: staging file names derive from the state a run
    started from, so a rerun from the same state rewrites the same names."""
    text = json.dumps(state or {}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]

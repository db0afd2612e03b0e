"""Per-stream validation: per-expectation counts from the row gate (Arrow), GX on SUMMARY.

The row gate evaluates every expectation of the entity's suites with Arrow and decides
every row's verdict. :class:`StreamValidator` adds up each batch's per-expectation counts
(``GateResult.unexpected``) and — unless disabled — runs the suites in Great Expectations on
the same validation frame (``GateResult.frame``) with ``result_format=SUMMARY`` so Data Docs
exist for every run and GX's counts sit next to the gate's (tests/expectations prove they
are equal on the demo world).

Memory: one batch's frame at a time; only counters survive a batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from hrss_hub.config.hub import DEFAULT_GX_ROWS
from hrss_hub.mapping.compile import MappedBatch
from hrss_hub.quality import references
from hrss_hub.quality.gate import GateResult
from hrss_hub.quality.rules import RuleContext
from hrss_hub.quality.suites import ExpectationSpec, Suite, default_dir, load_suites
from hrss_hub.standard.model import Entity, Standard


@dataclass
class ExpectationResult:
    """One expectation's outcome over a stream's run."""

    suite: str
    index: int
    type: str
    rule: str
    field: str
    severity: str
    kwargs: dict[str, Any]
    evaluated: int = 0
    unexpected: int = 0
    gx_unexpected: int | None = None
    gx_error: str | None = None
    source: str = "gate"  # every expectation is counted by the row gate


@dataclass
class StreamValidation:
    """A stream's validation in one run (written as JSON next to the report)."""

    run_id: str
    system: str
    stream: str
    entity: str
    rows: int = 0
    batches: int = 0
    seconds_gate_counts: float = 0.0
    seconds_gx: float = 0.0
    gx_rows: int = 0  # rows Great Expectations validated (a leading sample on big streams)
    expectations: list[ExpectationResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def validation_dir(reports_dir: Path, run_id: str) -> Path:
    """Where a run's per-stream validation JSON files live."""
    return reports_dir / run_id / "validation"


def gx_root(reports_dir: Path, run_id: str) -> Path:
    """The GX project folder of a run (its stores and Data Docs)."""
    return reports_dir / run_id / "gx"


def reference_values(exchange: str | Path | None, entity: str, fld: str) -> pa.Array | None:
    """Distinct values of ``entity.fld`` in the current published version (None: nothing
    published); a run's reference checks also see staged rows (:mod:`.references`)."""
    return references.published_values(exchange, entity, fld)


class StreamValidator:
    """Accumulates one stream's validation, batch by batch."""

    def __init__(self, standard: Standard, entity: Entity, suites: list[Suite], *,
                 run_id: str, system: str, stream: str,
                 gx_context: Any | None = None,
                 references: Mapping[tuple[str, str], pa.Array | None] | None = None,
                 gx_rows: int | None = DEFAULT_GX_ROWS) -> None:
        self.standard = standard
        self.entity = entity
        self.suites = suites
        self.result = StreamValidation(run_id, system, stream, entity.name)
        self.ctx = RuleContext(standard, dict(references or {}))
        self.specs: list[tuple[Suite, ExpectationSpec]] = [
            (s, e) for s in suites for e in s.expectations]
        self.result.expectations = [
            ExpectationResult(s.name, e.index, e.type, e.rule, e.field, e.severity,
                              dict(e.kwargs))
            for s, e in self.specs]
        self.runner: Any = None
        self.out_dir: Path | None = None
        self.gx_row_budget = gx_row_budget(gx_rows)
        if gx_context is not None and suites:
            from hrss_hub.quality import gx

            gx.set_context(self.ctx)
            self.runner = gx.SuiteRunner(gx_context, suites, f"{system}.{stream}", run_id)

    def add(self, mb: MappedBatch, verdict: GateResult) -> pa.Table:
        """Account for one gated batch; returns its validation frame."""
        t0 = time.perf_counter()
        frame = verdict.frame
        assert frame is not None, "the gate returns the frame its rules ran on"
        rows = frame.num_rows
        self.result.rows += rows
        self.result.batches += 1
        for res, (suite, spec) in zip(self.result.expectations, self.specs, strict=True):
            res.evaluated += rows
            # the gate evaluated exactly these suites (the pipeline passes them to it)
            res.unexpected += verdict.unexpected[(suite.name, spec.index)]
        self.result.seconds_gate_counts += time.perf_counter() - t0
        budget = self.gx_row_budget - self.result.gx_rows
        if self.runner is not None and rows and budget > 0:
            # GX costs ~10-30x the Arrow checks (reference/performance-reliability.md), so
            # on big streams it validates a leading sample; the gate still sees every row
            # and tests prove both agree on whole demo worlds
            sample = frame if rows <= budget else frame.slice(0, budget)
            self.result.gx_rows += sample.num_rows
            t1 = time.perf_counter()
            from hrss_hub.quality import gx

            gx.set_context(self.ctx)
            for res, count in zip(self.result.expectations, self.runner.validate(sample),
                                  strict=True):
                res.gx_unexpected = (res.gx_unexpected or 0) + count.unexpected_count
                if count.error:
                    res.gx_error = count.error
            self.result.seconds_gx += time.perf_counter() - t1
        return frame

    def finish(self, out_dir: Path | None = None) -> Path:
        """Write ``<out_dir>/<system>.<stream>.json``; returns its path."""
        out_dir = out_dir or self.out_dir
        assert out_dir is not None, "no output folder"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{self.result.system}.{self.result.stream}.json"
        r = self.result
        r.seconds_gate_counts = round(r.seconds_gate_counts, 4)
        r.seconds_gx = round(r.seconds_gx, 4)
        path.write_text(json.dumps(r.to_dict(), ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
        return path


class RunValidation:
    """The validation of a whole run: one GX file context, one validator per stream.

    Use as a context manager around a run; :meth:`stream` gives each stream's validator,
    closing it builds the Data Docs. ``gx=False`` skips Great Expectations (counts still
    come from the gate and the suites).
    """

    def __init__(self, cfg: Any, standard: Standard, run_id: str, *, gx: bool = True) -> None:
        self.cfg = cfg
        self.standard = standard
        self.run_id = run_id
        self.use_gx = gx
        self.suites = load_suites(default_dir(cfg.expectations_dir), standard)
        self._stack = ExitStack()
        self.context: Any = None
        self.docs: Path | None = None
        # published ∪ staged (this run's own rows included), see quality/references.py
        self._refs = references.ReferenceValues(cfg.exchange_uri, cfg.exchange_root)

    def __enter__(self) -> RunValidation:
        if self.use_gx:
            from hrss_hub.quality import gx

            self.context = self._stack.enter_context(
                gx.file_context(gx_root(self.cfg.reports_dir, self.run_id)))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.context is not None:
                from hrss_hub.quality import gx

                self.docs = gx.build_docs(self.context)
        finally:
            self._stack.close()

    def _references(self, entity: str) -> dict[tuple[str, str], pa.Array | None]:
        # looked up when each stream starts: it sees what the run's earlier streams staged
        return self._refs.for_suites(self.suites.get(entity, []))

    def stream(self, entity: Entity, system: str, stream: str) -> StreamValidator:
        """A validator for one stream of the run."""
        return StreamValidator(self.standard, entity, self.suites.get(entity.name, []),
                               run_id=self.run_id, system=system, stream=stream,
                               gx_context=self.context,
                               references=self._references(entity.name),
                               gx_rows=self.cfg.gx_rows)

    def out_dir(self) -> Path:
        """Where stream validations are written."""
        return validation_dir(self.cfg.reports_dir, self.run_id)


def gx_row_budget(rows: int | None = DEFAULT_GX_ROWS) -> int:
    """Rows per stream that Great Expectations validates: ``HubConfig.gx_rows`` (hub.yaml
    ``gx_rows`` or ``HRSS_HUB_GX_ROWS``; default 50,000; ``None`` = every row)."""
    return 1 << 62 if rows is None else max(0, rows)


def load_validations(reports_dir: Path, run_id: str) -> Iterator[dict[str, Any]]:
    """The stream validations written for a run."""
    for path in sorted(validation_dir(reports_dir, run_id).glob("*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))


# -- the calls pipeline.py makes (one RunValidation per open run, kept by run id) ---------

_OPEN: dict[str, RunValidation] = {}


def stream_validator(cfg: Any, standard: Standard, run_id: str, entity: Entity, system: str,
                     stream: str, *, gx: bool | None = None) -> StreamValidator:
    """The validator of one stream of run ``run_id`` (opens the run's validation on first
    use). ``gx=None``: ``cfg.gx`` (off with ``HRSS_HUB_GX=0`` or hub.yaml ``gx: false``)."""
    run = _OPEN.get(run_id)
    if run is None:
        use_gx = gx if gx is not None else bool(cfg.gx)
        run = RunValidation(cfg, standard, run_id, gx=use_gx).__enter__()
        _OPEN[run_id] = run
    validator = run.stream(entity, system, stream)
    validator.out_dir = run.out_dir()
    return validator


def finish_stream(validator: StreamValidator) -> Path:
    """Write one stream's validation (after its last batch)."""
    return validator.finish()


def close_run(run_id: str) -> Path | None:
    """Build the run's Data Docs and forget its validation; returns the Data Docs index."""
    run = _OPEN.pop(run_id, None)
    if run is None:
        return None
    run.__exit__(None, None, None)
    return run.docs

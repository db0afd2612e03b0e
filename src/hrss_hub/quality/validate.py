"""Per-stream validation: per-expectation counts from the row gate (Arrow), GX on SUMMARY.

The row gate evaluates every expectation of the entity's suites with Arrow and decides
every row's verdict. :class:`StreamValidator` adds up each batch's per-expectation counts
(``GateResult.unexpected``) and — unless disabled — runs the suites in Great Expectations on
the same validation frame (``GateResult.frame``) with ``result_format=SUMMARY`` so Data Docs
exist for every run and GX's counts sit next to the gate's (tests/expectations prove they
are equal on the demo world).

Memory: one batch's frame at a time; only counters survive a batch (and the GX sample,
until the GX thread has validated it).

Great Expectations runs on one background thread of the process (:func:`gx_thread`): a
stream's GX project is opened there (importing GX costs seconds) as soon as its validator
is made, and the leading sample is validated there while the stream goes on reading,
mapping and gating the rest on the other core. :meth:`StreamValidator.finish` waits for it,
so the written validation and the Data Docs are the same as if GX had run inline. One
thread for all streams: GX's project stores are never written from two threads at once.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
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
    """The GX project folder of a run's Data Docs (built at run close from the streams')."""
    return reports_dir / run_id / "gx"


def stream_gx_root(reports_dir: Path, run_id: str) -> Path:
    """Where the streams of a run keep their own GX projects."""
    return reports_dir / run_id / "gx_streams"


def stream_gx_dir(reports_dir: Path, run_id: str, system: str, stream: str) -> Path:
    """The GX project folder of one stream of a run (its suites and validation results)."""
    return stream_gx_root(reports_dir, run_id) / f"{system}.{stream}"


def reference_values(exchange: str | Path | None, entity: str, fld: str) -> pa.Array | None:
    """Distinct values of ``entity.fld`` in the current published version (None: nothing
    published); a run's reference checks also see staged rows (:mod:`.references`)."""
    return references.published_values(exchange, entity, fld)


_GX_THREAD: ThreadPoolExecutor | None = None
_GX_THREAD_LOCK = threading.Lock()


def gx_thread() -> ThreadPoolExecutor:
    """The process's one Great Expectations thread (made on first use)."""
    global _GX_THREAD
    with _GX_THREAD_LOCK:
        if _GX_THREAD is None:
            _GX_THREAD = ThreadPoolExecutor(1, "hrss-gx")
        return _GX_THREAD


class StreamValidator:
    """Accumulates one stream's validation, batch by batch.

    GX gets either an open ``gx_context`` or a ``gx_project`` folder to open one in; both
    are used on the GX thread only (see the module docstring)."""

    def __init__(self, standard: Standard, entity: Entity, suites: list[Suite], *,
                 run_id: str, system: str, stream: str,
                 gx_context: Any | None = None,
                 references: Mapping[tuple[str, str], pa.Array | None] | None = None,
                 gx_rows: int | None = DEFAULT_GX_ROWS,
                 gx_project: Path | None = None) -> None:
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
        self.out_dir: Path | None = None
        self.gx_project = gx_project  # the stream's own GX project folder
        self.gx_row_budget = gx_row_budget(gx_rows)
        #: the GX suite runner, being made on the GX thread (None: no GX)
        self._runner: Future[Any] | None = None
        #: samples submitted to the GX thread, not yet counted
        self._gx_pending: list[Future[tuple[list[Any], float]]] = []
        if (gx_context is not None or gx_project is not None) and suites:
            self._runner = gx_thread().submit(self._open_runner, gx_context)

    def _open_runner(self, context: Any) -> Any:
        """(GX thread) the stream's suite runner, opening its project first if need be."""
        from hrss_hub.quality import gx

        if context is None:
            assert self.gx_project is not None
            context = gx.open_file_context(self.gx_project)
        gx.set_context(self.ctx)
        return gx.SuiteRunner(context, self.suites,
                              f"{self.result.system}.{self.result.stream}", self.result.run_id)

    def _gx_validate(self, sample: pa.Table) -> tuple[list[Any], float]:
        """(GX thread) GX's counts on ``sample`` and the seconds they took."""
        from hrss_hub.quality import gx

        assert self._runner is not None
        runner = self._runner.result()  # submitted first to the same thread: done
        t0 = time.perf_counter()
        gx.set_context(self.ctx)
        counts = runner.validate(sample)
        return counts, time.perf_counter() - t0

    @property
    def runner(self) -> Any:
        """The GX suite runner (waits for the GX thread to make it); None: no GX."""
        return None if self._runner is None else self._runner.result()

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
        if self._runner is not None and rows and budget > 0:
            # GX costs ~10-30x the Arrow checks (reference/performance-reliability.md), so
            # on big streams it validates a leading sample; the gate still sees every row
            # and tests prove both agree on whole demo worlds
            sample = frame if rows <= budget else frame.slice(0, budget)
            self.result.gx_rows += sample.num_rows
            self._gx_pending.append(gx_thread().submit(self._gx_validate, sample))
        return frame

    def wait_gx(self) -> None:
        """Wait for the GX thread and add its counts (in the order the samples came);
        an error GX raised is raised here."""
        if self._runner is not None:
            self._runner.result()  # a project that failed to open fails the stream here
        pending, self._gx_pending = self._gx_pending, []
        for future in pending:
            counts, seconds = future.result()
            for res, count in zip(self.result.expectations, counts, strict=True):
                res.gx_unexpected = (res.gx_unexpected or 0) + count.unexpected_count
                if count.error:
                    res.gx_error = count.error
            self.result.seconds_gx += seconds

    def abandon(self) -> None:
        """Stop this stream's GX work after a failure: samples not started are dropped,
        the one running is waited for (it writes into the stream's project folder)."""
        futures = [f for f in [self._runner, *self._gx_pending] if f is not None]
        self._gx_pending = []
        for future in futures:
            future.cancel()
        for future in futures:
            if not future.cancelled():
                with contextlib.suppress(Exception):  # the stream failed already
                    future.result()

    def finish(self, out_dir: Path | None = None) -> Path:
        """Wait for GX, write ``<out_dir>/<system>.<stream>.json``; returns its path."""
        out_dir = out_dir or self.out_dir
        assert out_dir is not None, "no output folder"
        self.wait_gx()
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{self.result.system}.{self.result.stream}.json"
        r = self.result
        r.seconds_gate_counts = round(r.seconds_gate_counts, 4)
        r.seconds_gx = round(r.seconds_gx, 4)
        path.write_text(json.dumps(r.to_dict(), ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
        return path


class RunValidation:
    """The validation setup of a run in one process: the suites, reference values, and one
    validator per stream, each with its own GX project folder.

    No GX project is shared between streams: parallel stream tasks of one run (Airflow
    mapped tasks, each in its own process on its own worker) never write one
    ``great_expectations.yml`` (a half-written file failed a parallel stream with a YAML
    ``ScannerError``). Each stream's results persist in
    ``reports/<run>/gx_streams/<system>.<stream>/``; :func:`close_run` builds the Data Docs
    from them in whichever process closes the run. ``gx=False`` skips Great Expectations
    (counts still come from the gate and the suites).
    """

    def __init__(self, cfg: Any, standard: Standard, run_id: str, *, gx: bool = True) -> None:
        self.cfg = cfg
        self.standard = standard
        self.run_id = run_id
        self.use_gx = gx
        self.suites = load_suites(default_dir(cfg.expectations_dir), standard)
        # published ∪ staged (this run's own rows included), see quality/references.py
        self._refs = references.ReferenceValues(cfg.exchange_uri, cfg.exchange_root)

    def __enter__(self) -> RunValidation:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _references(self, entity: str) -> dict[tuple[str, str], pa.Array | None]:
        # looked up when each stream starts: it sees what the run's earlier streams staged
        return self._refs.for_suites(self.suites.get(entity, []))

    def stream(self, entity: Entity, system: str, stream: str) -> StreamValidator:
        """A validator for one stream of the run, with a fresh GX project of its own (a
        retried attempt starts from an empty folder, so the docs show the last attempt)."""
        suites = self.suites.get(entity.name, [])
        project: Path | None = None
        if self.use_gx and suites:
            project = stream_gx_dir(self.cfg.reports_dir, self.run_id, system, stream)
            shutil.rmtree(project, ignore_errors=True)
        # GX opens the project on its own thread while the stream starts reading
        validator = StreamValidator(self.standard, entity, suites,
                                    run_id=self.run_id, system=system, stream=stream,
                                    references=self._references(entity.name),
                                    gx_rows=self.cfg.gx_rows, gx_project=project)
        validator.out_dir = self.out_dir()
        return validator

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


# -- the calls pipeline.py makes (no per-process state: each call stands alone) ----------


def stream_validator(cfg: Any, standard: Standard, run_id: str, entity: Entity, system: str,
                     stream: str, *, gx: bool | None = None) -> StreamValidator:
    """The validator of one stream of run ``run_id``, with its own GX project folder.
    ``gx=None``: ``cfg.gx`` (off with ``HRSS_HUB_GX=0`` or hub.yaml ``gx: false``)."""
    use_gx = gx if gx is not None else bool(cfg.gx)
    return RunValidation(cfg, standard, run_id, gx=use_gx).stream(entity, system, stream)


def finish_stream(validator: StreamValidator) -> Path:
    """Write one stream's validation (after its last batch); its GX results are on disk."""
    return validator.finish()


def abandon_stream(validator: StreamValidator) -> None:
    """After a failed stream: its GX work stopped (see :meth:`StreamValidator.abandon`)."""
    validator.abandon()


def close_run(cfg: Any, run_id: str) -> Path | None:
    """Build the run's Data Docs from the GX results its streams persisted; returns the
    Data Docs index (None: no stream ran Great Expectations).

    Runs in whichever process closes the run (the CLI, or an Airflow task on any worker):
    it reads only files under ``reports/<run>/``, so the streams may have validated in
    other processes on other machines sharing the reports folder. Idempotent: a retried
    close rebuilds the same docs.
    """
    streams = sorted(p for p in stream_gx_root(cfg.reports_dir, run_id).glob("*/gx")
                     if p.is_dir())
    if not streams:
        return None
    from hrss_hub.quality import gx

    root = gx_root(cfg.reports_dir, run_id)
    shutil.rmtree(root, ignore_errors=True)
    with gx.file_context(root) as context:
        project = Path(context.root_directory)
        for stream in streams:
            gx.merge_results(stream, project)
        return gx.build_docs(context)

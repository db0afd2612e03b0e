"""``hrss-hub run --parallel N``: the same results as a serial run, whatever N.

The run world (6 si_core streams, 3 other systems, 5 entities in two reference phases) is
run serially and with 4 workers on copies of the same data: published content, quarantine,
the ledger's cursors and counts, deliveries and the run summary must be equal; one system
failing must leave the others finished with the same errors; a SIGKILLed parallel run
rerun must equal a clean run.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from run_world import ENTITIES, RUN_COLUMNS, ledger_facts, published, quarantined, start_run

from hrss_hub.cli import cli
from hrss_hub.config import load_config
from hrss_hub.errors import PublishError
from hrss_hub.exchange.reading import read_version
from hrss_hub.ledger import Ledger
from hrss_hub.pipeline import run
from hrss_hub.run.parallel import (
    DEFAULT_MAX_WORKERS,
    LockedProgress,
    Part,
    default_workers,
    plan_phase,
    run_jobs,
    worker_count,
)
from hrss_hub.run.summary import RunSummary, StreamSummary

#: summary fields that differ between two runs of the same data by design
_TIMING = ("duration_seconds", "started_at", "run_id", "report", "data_docs")


def _copy(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


def _scrub(value: Any, ws: Path, run_id: str) -> Any:
    """``value`` as JSON text with the workspace path and run id replaced."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return json.loads(text.replace(str(ws), "<ws>").replace(run_id, "<run>"))


def outcome(ws: Path, summary: RunSummary) -> dict[str, Any]:
    """Everything a run decided, comparable between two workspaces."""
    cfg = load_config(ws / "hub.yaml")
    streams = [(s.system, s.stream) for sy in summary.systems for s in sy.streams]
    with Ledger.open(cfg.ledger_url) as led:
        state = {f"{sy}.{st}": (led.get_state(sy, st), led.last_schema_fingerprint(sy, st),
                                sorted(led.processed_files(sy, st)))
                 for sy, st in streams}
        counts = {f"{sy}.{st}": vars(c)
                  for (_, sy, st), c in led.committed_batches([summary.run_id]).items()}
    data = summary.to_dict()
    data.pop("publishing", None)  # compared below without its version timestamps
    for key in _TIMING:
        data.pop(key, None)
    for system in data["systems"]:
        for stream in system["streams"]:
            stream.pop("duration_seconds")
    facts = ledger_facts(ws)
    versions = sorted((v["dataset"], v["version"], v["rows"])
                      for v in (summary.publishing or {}).get("versions") or [])
    deliveries = sorted((d["recipient"], d["dataset"], d["status"], d["rows"])
                        for d in (summary.publishing or {}).get("deliveries") or [])
    return _scrub({"published": published_or_none(ws), "quarantined": quarantined(ws),
                   "state": state, "counts": counts, "summary": data,
                   "versions": versions, "deliveries": deliveries,
                   "delivered_rows": sorted(facts["delivered_rows"].items()),
                   "audit_problems": facts["audit_problems"]}, ws, summary.run_id)


def published_or_none(ws: Path) -> dict[str, Any]:
    """:func:`published`, an entity no stream published being ``None``."""
    out: dict[str, Any] = {}
    for entity in ENTITIES:
        try:
            out[entity] = published_entity(ws, entity)
        except PublishError:
            out[entity] = None
    return out


def published_entity(ws: Path, entity: str) -> list[tuple[str, ...]]:
    table = read_version(ws / "exchange", entity)
    keep = [c for c in table.column_names if c not in RUN_COLUMNS]
    return sorted(tuple(str(r[c]) for c in keep) for r in table.select(keep).to_pylist())


def run_with(ws: Path, workers: int) -> RunSummary:
    return run(load_config(ws / "hub.yaml", overrides={"parallel": workers}))


def test_parallel_run_equals_serial_run(world_template: Path, tmp_path: Path) -> None:
    serial_ws = _copy(world_template, tmp_path / "serial")
    parallel_ws = _copy(world_template, tmp_path / "parallel")
    serial = run_with(serial_ws, 1)
    par = run_with(parallel_ws, 4)
    assert serial.status == "succeeded", serial.to_dict()
    expected, got = outcome(serial_ws, serial), outcome(parallel_ws, par)
    assert expected["published"] == _scrub(published(serial_ws), serial_ws, serial.run_id)
    assert sum(len(rows) for rows in expected["published"].values()) > 100
    assert expected["quarantined"] and expected["deliveries"]
    for key in expected:
        assert got[key] == expected[key], key
    # and an incremental second run (nothing new) agrees too
    assert outcome(serial_ws, run_with(serial_ws, 1))["counts"] == \
        outcome(parallel_ws, run_with(parallel_ws, 4))["counts"]


def test_parallel_run_with_great_expectations_equals_serial(world_template: Path,
                                                            tmp_path: Path) -> None:
    """GX validates each stream in its own project, from the workers' threads."""
    runs = {}
    for workers in (1, 3):
        ws = _copy(world_template, tmp_path / f"gx{workers}")
        hub = yaml.safe_load((ws / "hub.yaml").read_text(encoding="utf-8"))
        hub["gx"] = True
        (ws / "hub.yaml").write_text(yaml.safe_dump(hub, allow_unicode=True), encoding="utf-8")
        summary = run_with(ws, workers)
        assert not summary.failed, [(s.system, s.error) for s in summary.systems if s.error]
        validations = {}
        for path in sorted((ws / "reports" / summary.run_id).rglob("validation/*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            validations[path.name] = [(e.get("expectation_type") or e.get("type"),
                                       e.get("gx_unexpected"), e.get("gx_error"))
                                      for e in doc.get("expectations") or []]
        runs[workers] = (outcome(ws, summary), validations)
    assert runs[1][1], "no stream validation written"
    assert any(n for items in runs[1][1].values() for _, n, _ in items), "GX judged nothing"
    assert runs[3] == runs[1]


def test_a_failing_system_leaves_the_others_finished(world_template: Path,
                                                     tmp_path: Path) -> None:
    results = {}
    for workers in (1, 4):
        ws = _copy(world_template, tmp_path / f"w{workers}")
        db = sqlite3.connect(ws / "sources" / "si_core.db")
        db.execute("DROP TABLE AC02")
        db.commit()
        db.close()
        summary = run_with(ws, workers)
        results[workers] = outcome(ws, summary)
        by_system = {s.system: s for s in summary.systems}
        assert summary.status == "partial"
        assert by_system["si_core"].status == "failed"
        assert "AC02" in str(by_system["si_core"].error)
        assert all(s.status == "succeeded" for name, s in by_system.items()
                   if name != "si_core")
        assert by_system["contracts"].streams[0].published > 0
    assert results[4] == results[1]


def clean_outcome(template: Path, ws: Path) -> dict[str, Any]:
    summary = run_with(_copy(template, ws), 1)
    assert not summary.failed
    return {"published": published(ws), "quarantined": quarantined(ws),
            "delivered": ledger_facts(ws)["delivered_rows"]}


@pytest.mark.slow
@pytest.mark.parametrize("point", ["extract.chunk@3", "stage.written@2",
                                   "quarantine.renamed@3", "ledger.committed@4",
                                   "publish.entity"])
def test_a_killed_parallel_run_is_redone_exactly_once(point: str, world: Path,
                                                      world_template: Path,
                                                      tmp_path: Path) -> None:
    clean = clean_outcome(world_template, tmp_path / "clean")
    killed = start_run(world, "--parallel", "4", HRSS_HUB_TEST_CRASHPOINT=point)
    _out, err = killed.communicate(timeout=180)
    assert killed.returncode == -signal.SIGKILL, f"{point} was never reached: {err[-2000:]}"
    rerun = run_with(world, 4)
    assert not rerun.failed, rerun.to_dict()
    assert published(world) == clean["published"]
    assert quarantined(world) == clean["quarantined"]
    facts = ledger_facts(world)
    assert facts["running"] == [] and facts["locks"] == []
    assert facts["duplicate_deliveries"] == [] and facts["audit_problems"] == []
    assert facts["delivered_rows"] == clean["delivered"]


def test_cli_parallel_option(world: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(world / "hub.yaml"),
                                       "--parallel", "0"])
    assert result.exit_code == 2 and "--parallel" in result.output
    result = CliRunner().invoke(cli, ["run", "--config", str(world / "hub.yaml"), "--json",
                                       "--parallel", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "succeeded" and len(data["systems"]) == 4


# -- the parts --------------------------------------------------------------------------


def test_worker_count_follows_flag_then_hub_yaml_then_cores(world: Path) -> None:
    assert default_workers(1) == 1 and default_workers(2) == 1 and default_workers(4) == 2
    assert default_workers(64) == DEFAULT_MAX_WORKERS and default_workers(0) == 1
    hub = yaml.safe_load((world / "hub.yaml").read_text(encoding="utf-8"))
    assert worker_count(load_config(world / "hub.yaml")) == default_workers()
    hub["parallel"] = 3
    (world / "hub.yaml").write_text(yaml.safe_dump(hub, allow_unicode=True), encoding="utf-8")
    cfg = load_config(world / "hub.yaml")
    assert worker_count(cfg) == 3 and cfg.origins["parallel"] == "hub.yaml"
    cfg = load_config(world / "hub.yaml", overrides={"parallel": 1})
    assert worker_count(cfg) == 1 and cfg.origins["parallel"] == "cli"
    memory = load_config(world / "hub.yaml", environ={"HRSS_HUB_LEDGER_URL": "sqlite://"})
    assert worker_count(memory) == 1  # one shared connection: serial


def test_plan_phase_groups_by_system_and_entity() -> None:
    phase = [("a", "p1"), ("a", "p2"), ("a", "e"), ("b", "p"), ("b", "raw")]
    entity_of = {("a", "p1"): "person", ("a", "p2"): "person", ("a", "e"): "employer",
                 ("b", "p"): "person", ("b", "raw"): None}
    jobs = plan_phase(phase, entity_of, lambda e: set(), ["a", "b"])
    assert jobs == [[Part("a", frozenset({"p1", "p2"}))], [Part("a", frozenset({"e"}))],
                    [Part("b", frozenset({"p"}))], [Part("b", frozenset({"raw"}))]]


def test_plan_phase_is_serial_when_a_stream_references_its_own_phase() -> None:
    phase = [("b", "emp"), ("a", "person"), ("a", "employer")]
    entity_of = {("b", "emp"): "employer", ("a", "person"): "person",
                 ("a", "employer"): "employer"}
    # a reference cycle: person ↔ employer (stream_phases keeps both in one phase)
    refs = {"person": {"employer"}, "employer": {"person"}}
    jobs = plan_phase(phase, entity_of, lambda e: refs.get(e, set()), ["a", "b"])
    assert jobs == [[Part("a", frozenset({"person", "employer"})),
                     Part("b", frozenset({"emp"}))]]
    # an entity referring to itself, staged by two streams: the second sees the first's
    self_ref = plan_phase([("a", "x"), ("b", "y")], {("a", "x"): "person",
                                                    ("b", "y"): "person"},
                          lambda e: {"person"}, ["a", "b"])
    assert len(self_ref) == 1
    # ... but one stream referring to its own entity has nobody to wait for
    alone = plan_phase([("a", "x"), ("b", "y")], {("a", "x"): "person",
                                                 ("b", "y"): "employer"},
                       lambda e: {"person"} if e == "person" else set(), ["a", "b"])
    assert len(alone) == 2


def test_run_jobs_runs_at_once_and_reraises_the_first_error() -> None:
    barrier = threading.Barrier(2, timeout=10)
    seen: list[int] = []

    def meet(job: int) -> None:
        barrier.wait()  # both jobs must be running at the same time to pass
        seen.append(job)

    run_jobs([1, 2], meet, workers=2)
    assert sorted(seen) == [1, 2]

    def fail(job: int) -> None:
        if job == 2:
            raise RuntimeError("job 2 broke")

    with pytest.raises(RuntimeError, match="job 2 broke"):
        run_jobs([1, 2, 3], fail, workers=2)
    order: list[int] = []
    run_jobs([3, 1, 2], order.append, workers=1)
    assert order == [3, 1, 2]


def test_locked_progress_forwards_every_event() -> None:
    events: list[tuple[str, ...]] = []

    class Recorder:
        def stream_started(self, system: str, stream: str) -> None:
            events.append(("started", system, stream))

        def stream_estimate(self, system: str, stream: str,
                            estimate: Callable[[], int | None]) -> None:
            events.append(("estimate", system, stream, str(estimate())))

        def rows_read(self, system: str, stream: str, rows: int) -> None:
            events.append(("rows", system, stream, str(rows)))

        def stream_finished(self, summary: StreamSummary) -> None:
            events.append(("finished", summary.system, summary.stream))

    progress = LockedProgress(Recorder())
    threads = [threading.Thread(target=progress.rows_read, args=("s", str(i), 5))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.stream_started("s", "x")

    def slow_count() -> int:
        # the lock is free while the estimate runs: another thread's event gets through
        other = threading.Thread(target=progress.rows_read, args=("s", "y", 1))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive()
        return 42

    progress.stream_estimate("s", "x", slow_count)
    progress.stream_finished(StreamSummary("s", "x", None))
    assert ("estimate", "s", "x", "42") in events and ("rows", "s", "y", "1") in events
    assert len(events) == 12 and events[-1] == ("finished", "s", "x")

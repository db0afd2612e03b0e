"""The Airflow task bodies, each in its own process (as on Celery workers), give the CLI's
result: the same published content, the same counts, and Great Expectations Data Docs
built by the process that closes the run from the results the stream processes persisted.

``dag.test()`` runs every task in one interpreter and hid that the docs were kept in a
module-global registry (never built under a real executor, #10.8/#16.2) and that parallel
streams shared one GX project folder (a half-written ``great_expectations.yml``, #16.1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hrss_hub.config import load_config

pytestmark = pytest.mark.slow

RUNNER = Path(__file__).with_name("task_body.py")
#: processes at once: every stream of every system in parallel would oversubscribe CI
PARALLEL = 4


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


def body(function: str, env: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """One task body in a fresh interpreter; its result."""
    done = subprocess.run([sys.executable, str(RUNNER), function, json.dumps(kwargs)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    return result


def bodies_in_parallel(function: str, env: dict[str, str],
                       calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``function`` once per kwargs in ``calls``, up to PARALLEL processes at once."""
    results: list[dict[str, Any] | None] = [None] * len(calls)
    running: list[tuple[int, subprocess.Popen[str]]] = []
    pending = list(enumerate(calls))
    deadline = time.monotonic() + 600
    while pending or running:
        while pending and len(running) < PARALLEL:
            i, kwargs = pending.pop(0)
            running.append((i, subprocess.Popen(
                [sys.executable, str(RUNNER), function, json.dumps(kwargs)], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        i, proc = running.pop(0)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err[-4000:]
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        results[i] = json.loads(line[len("RESULT "):])
    return [r for r in results if r is not None]


def content(ws: Path, entity: str) -> list[tuple[Any, ...]]:
    """The current version of ``entity``, without the columns that say when it was read."""
    from hrss_hub.exchange.reading import read_version

    table = read_version(ws / "exchange", entity)
    keep = [c for c in table.column_names if c not in ("run_id", "extracted_at")]
    return sorted(tuple(map(str, row.values())) for row in table.select(keep).to_pylist())


def test_task_bodies_in_separate_processes_give_the_cli_result_and_data_docs(
        tmp_path: Path) -> None:
    from hrss_hub.demo.generator import generate_world
    from hrss_hub.pipeline import run

    by_tasks, by_cli = tmp_path / "tasks", tmp_path / "cli"
    key = generate_world(by_tasks, persons=60, seed=5)
    generate_world(by_cli, persons=60, seed=5)
    config = str(by_tasks / "hub.yaml")
    env = dict(os.environ)
    # si_core's 4 streams share one run (parallel streams of one system); contracts is a
    # second system feeding person, so the person merge sees two systems
    systems = ["contracts", "si_core"]
    links = {s: body("open_run", env, config_path=config, system=s,
                     dag_id=f"hrss_sync_{s}", airflow_run_id=f"manual__{s}")
             for s in systems}
    calls = [{"config_path": config, "system": s, "stream": stream,
              "run_id": links[s]["run_id"]}
             for s in systems for stream in key["systems"][s]]
    results = bodies_in_parallel("sync_stream", env, calls)
    closed = []
    for s in systems:
        mine = [r for r in results if r["system"] == s]
        expected = [(r["stream"], r["entity"]) for r in mine]
        closed.append(body("close_run", env, config_path=config, system=s,
                           run_id=links[s]["run_id"], expected=expected, results=mine))
    body("publish_runs", env, config_path=config, run_ids=[c["run_id"] for c in closed])
    expected_run = run(load_config(by_cli / "hub.yaml"), systems)

    assert all(c["status"] == "succeeded" for c in closed), closed
    assert not expected_run.failed
    cfg = load_config(config)
    from hrss_hub.ledger import Ledger

    ledger = Ledger.open(cfg.ledger_url)
    try:
        summaries = {c["run_id"]: ledger.get_run(c["run_id"]).summary for c in closed}
    finally:
        ledger.close()
    for run_id, summary in summaries.items():
        assert summary is not None
        docs = summary.get("data_docs")
        assert docs and Path(docs).is_file(), (run_id, summary.get("notes"))
        # the run's docs hold every stream's results (one page per suite and batch)
        pages = list(Path(docs).parent.glob("validations/**/*.html"))
        streams = [st for s in summary["systems"] for st in s["streams"]
                   if st["status"] == "succeeded"]
        assert len(pages) >= len(streams), (run_id, pages)
        assert (cfg.reports_dir / run_id).is_dir()

    def counts(systems: list[Any]) -> dict[str, tuple[Any, ...]]:
        return {f"{s['system']}.{st['stream']}": (st["read"], st["published"],
                                                   st["quarantined"], st["filtered"])
                for s in systems for st in s["streams"]}

    by_task_counts: dict[str, tuple[Any, ...]] = {}
    for summary in summaries.values():
        by_task_counts.update(counts(summary["systems"]))
    assert by_task_counts == counts(expected_run.to_dict()["systems"])
    for entity in ("person", "employer"):
        assert content(by_tasks, entity) == content(by_cli, entity), entity

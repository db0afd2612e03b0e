"""#16 build 2: the real topology — api-server, scheduler, dag-processor, triggerer and two
Celery workers as separate processes on PostgreSQL metadata and a Redis broker, the hub
ledger on PostgreSQL, the exchange local — runs every demo DAG, survives a SIGKILLed
worker, and gives exactly what ``hrss-hub run`` gives on the same world.

``dag.test()`` runs every task in one interpreter; this is what a bureau deploys.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from deploy_topology import LEDGER_DB, PG, Topology, deployment, wait_for
from run_world import ledger_facts, published

from hrss_hub.config import load_config

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

PERSONS = 40
SEED = 13
#: every wait of the test shares this bound (issue #16 asks ≤ 5 minutes for the whole
#: test; on a 2-core machine shared by other jobs the DAG runs alone can take longer)
BUDGET_SECONDS = 480


def _manual_fast_retries(ws: Path) -> None:
    # manual DAGs (one run each, when triggered) that retry after 2 s, not 60
    for path in (ws / "connectors").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc.update(schedule=None, retries=2, retry_delay_seconds=2)
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")


def _descendants(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _running_on(topo: Topology, worker: str) -> tuple[str, int] | None:
    """A running ``sync_stream`` task instance whose process belongs to ``worker``."""
    mine = _descendants(topo.procs[worker].pid)
    for dag_id, map_index, pid in topo.query(
            "SELECT dag_id, map_index, pid FROM task_instance "
            "WHERE task_id = 'sync_stream' AND state = 'running'"):
        if pid in mine:
            return str(dag_id), int(map_index)
    return None


def _settled(topo: Topology, sync_dags: list[str]) -> bool:
    """Every sync DAG run finished, a publish started after the last of them announced its
    entities, nothing queued or running.

    The announcement is ``finish_run`` (the task with the asset outlets); a sync DAG run
    itself ends later, after ``check_run`` and ``quality_report``, so a publish it
    triggered may well end before it does (seen in CI when a killed ``start_run`` delayed
    one system: the last publish ended first and the test waited for one that never came).
    """
    runs = topo.query("SELECT dag_id, state, start_date FROM dag_run")
    if any(state in ("queued", "running") for _d, state, _s in runs):
        return False
    if len({d for d, _s, _st in runs if d in sync_dags}) != len(sync_dags):
        return False
    announced = [e for (e,) in topo.query(
        "SELECT end_date FROM task_instance WHERE task_id = 'finish_run' "
        "AND state = 'success'")]
    publish = [st for d, s, st in runs if d == "hrss_publish" and s == "success"]
    return (len(announced) == len(sync_dags) and bool(publish)
            and max(publish) >= max(announced))


def _stream_counts(summaries: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {f"{s['system']}.{st['stream']}": (st["status"], st["read"], st["published"],
                                              st["quarantined"], st["filtered"])
            for summary in summaries for s in summary["systems"] for st in s["streams"]}


def test_celery_topology_gives_the_cli_result_through_a_killed_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.demo.generator import TOKEN_ENV, URL_ENV, demo_token, generate_world
    from hrss_hub.demo.server import start_server
    from hrss_hub.demo_tour import compare_with_key
    from hrss_hub.pipeline import run
    from hrss_hub.run.summary import RunSummary

    started = time.monotonic()
    world, cli = tmp_path / "world", tmp_path / "cli"
    key = generate_world(world, persons=PERSONS, seed=SEED)
    generate_world(cli, persons=PERSONS, seed=SEED)
    for ws in (world, cli):
        _manual_fast_retries(ws)
    servers = {ws: start_server(ws, port=0, token=demo_token(ws)) for ws in (world, cli)}
    try:
        monkeypatch.setenv(TOKEN_ENV, demo_token(cli))
        monkeypatch.setenv(URL_ENV, servers[cli].url)
        t_cli = time.monotonic()
        expected = run(load_config(cli / "hub.yaml"))
        cli_seconds = time.monotonic() - t_cli
        assert not expected.failed
        monkeypatch.setenv("HRSS_HUB_LEDGER_URL", f"{PG}/{LEDGER_DB}")

        sync_dags = sorted(f"hrss_sync_{s}" for s in key["systems"])
        extra = {TOKEN_ENV: demo_token(world), URL_ENV: servers[world].url}
        with deployment(tmp_path / "airflow", world / "hub.yaml", extra) as topo:
            left = lambda: BUDGET_SECONDS - (time.monotonic() - started)  # noqa: E731
            wait_for("the DAGs to be parsed", lambda: set(sync_dags) <= {
                d for (d,) in topo.query("SELECT dag_id FROM dag WHERE NOT is_paused")},
                timeout=min(90, left()))
            t_dags = time.monotonic()
            topo.trigger(sync_dags)
            victim = wait_for("a sync_stream task on worker1",
                              lambda: _running_on(topo, "worker1"), timeout=min(120, left()),
                              every=0.5)
            topo.kill("worker1")
            try:
                wait_for("every DAG run to finish and publish", lambda: _settled(
                    topo, sync_dags), timeout=max(10, left()), every=2)
            except AssertionError as exc:
                tis = topo.query("SELECT dag_id, task_id, map_index, state, try_number "
                                 "FROM task_instance")
                raise AssertionError(f"{exc}\n{tis}\n{topo.log_tail('scheduler')}\n"
                                     f"{topo.log_tail('worker2')}") from exc

            dags_seconds = time.monotonic() - t_dags
            tasks = topo.query("SELECT task_id, EXTRACT(EPOCH FROM end_date - start_date) "
                               "FROM task_instance WHERE state = 'success'")
            states = {(d, s) for d, s in topo.query("SELECT dag_id, state FROM dag_run")}
            assert states == {(d, "success") for d in [*sync_dags, "hrss_publish"]}, states
            (retried,) = topo.query(
                "SELECT state, try_number FROM task_instance WHERE dag_id = :d AND "
                "task_id = 'sync_stream' AND map_index = :m", d=victim[0], m=victim[1])
            assert retried[0] == "success" and retried[1] >= 2, retried  # retried elsewhere
            hosts = {h for (h,) in topo.query(
                "SELECT DISTINCT queue FROM task_instance WHERE state = 'success'")}
            assert hosts  # every task went through the Celery queues

            facts = ledger_facts(world)
            from hrss_hub.ledger import Ledger

            with Ledger.open(f"{PG}/{LEDGER_DB}") as led:
                summaries = [r.summary for r in led.recent_runs(1000)
                             if r.summary and r.summary.get("systems")]
            data_docs = [s.get("data_docs") for s in summaries]
    finally:
        for server in servers.values():
            server.stop()

    # the wall times the issue asks for (printed; run with -s to see them)
    engine = sum(st["duration_seconds"] for x in summaries for s in x["systems"]
                 for st in s["streams"])
    sync = [float(sec) for task_id, sec in tasks if task_id == "sync_stream"]
    print("TIMING " + json.dumps({
        "cli_run_seconds": round(cli_seconds, 1),
        "celery_trigger_to_published_seconds": round(dags_seconds, 1),
        "celery_tasks": len(tasks),
        "celery_task_seconds_total": round(sum(float(x) for _t, x in tasks), 1),
        "sync_stream_task_seconds": round(sum(sync), 1),
        "sync_stream_engine_seconds": round(engine, 1),
        "load_average": os.getloadavg()}), flush=True)
    # nothing left running: every component and its children are gone
    for name, proc in topo.procs.items():
        assert proc.poll() is not None, name
    # answer key, content, counts
    merged = RunSummary.from_dict({"run_id": "airflow", "status": "succeeded",
                                   "started_at": "", "duration_seconds": 0.0,
                                   "systems": [s for x in summaries for s in x["systems"]]})
    assert compare_with_key(merged, key) == []
    assert published(world) == published(cli)
    assert _stream_counts(summaries) == _stream_counts([expected.to_dict()])
    # Data Docs for every sync run, built by whichever worker closed it
    assert len(data_docs) == len(sync_dags) and all(d and Path(d).is_file() for d in data_docs)
    # the ledger: no run left open, no lock held, one delivery per version, chain intact
    assert facts["running"] == [] and facts["locks"] == []
    assert facts["duplicate_deliveries"] == [] and facts["audit_problems"] == []
    # each version's quality block names the runs that staged its rows: the sync runs for
    # source entities; the publisher's run for what it derives (person master, findings)
    run_ids = {s["run_id"] for s in summaries}
    derived = {"person_master", "person_link", "finding"}
    for manifest_dir in (world / "exchange").glob("*/_hrss/manifests"):
        latest = sorted(manifest_dir.glob("*.json"))[-1]
        quality = json.loads(latest.read_text(encoding="utf-8")).get("quality") or {}
        runs = set(quality.get("runs", []))
        if manifest_dir.parent.parent.name in derived:
            assert runs and not runs & run_ids, (latest, quality)
        else:
            assert runs <= run_ids, (latest, quality)
    assert not os.environ.get("AIRFLOW__CORE__EXECUTOR")  # the test process is untouched

"""Every Airflow task body in its own process (as under a real executor) gives what
``hrss-hub run`` gives: the same published content and quarantine, one publisher, one
report, and each version's quality block names the runs whose rows it holds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from run_world import hub_env, ledger_facts, published, quarantined, start_run

from hrss_hub.airflow.spec import read_system_specs

pytestmark = pytest.mark.slow


def task(name: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``hrss_hub.airflow.tasks.<name>(*args, **kwargs)`` in a fresh interpreter."""
    code = ("import json, sys; from hrss_hub.airflow import tasks; "
            "a = json.loads(sys.argv[2]); "
            "out = getattr(tasks, sys.argv[1])(*a['args'], **a['kwargs']); "
            "print('RESULT ' + json.dumps(out, default=str))")
    payload = json.dumps({"args": args, "kwargs": kwargs})
    done = subprocess.run([sys.executable, "-c", code, name, payload],
                          capture_output=True, text=True, env=hub_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_task_bodies_in_separate_processes_equal_the_cli(world: Path, tmp_path: Path) -> None:
    cli = tmp_path / "cli"
    shutil.copytree(world, cli)
    proc = start_run(cli)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err

    config = str(world / "hub.yaml")
    run_ids = []
    for spec in read_system_specs(config):
        link = task("open_run", config, spec.system, dag_id=spec.dag_id,
                    airflow_run_id=f"manual__{spec.system}")
        run_ids.append(link["run_id"])
        results = [task("sync_stream", config, spec.system, s.name, link["run_id"])
                   for s in spec.streams]
        closed = task("close_run", config, spec.system, link["run_id"],
                      [[s.name, s.entity] for s in spec.streams], results)
        assert closed["status"] == "succeeded", closed
        report = task("quality_report", config, link["run_id"])
        assert report["status"] == "written" and Path(report["report"]).exists()
    publish = task("publish_runs", config, run_ids)
    assert publish["status"] == "published" and publish["versions"]

    assert published(world) == published(cli)
    assert quarantined(world) == quarantined(cli)
    facts = ledger_facts(world)
    assert facts["running"] == [] and facts["locks"] == []
    assert facts["delivered_rows"] == ledger_facts(cli)["delivered_rows"]
    # the sync runs published nothing; each version names the runs that staged its rows
    manifest = json.loads(sorted((world / "exchange" / "person" / "_hrss" / "manifests")
                                 .glob("*.json"))[-1].read_text(encoding="utf-8"))
    staged_by = set(manifest["quality"]["runs"])
    assert staged_by and staged_by <= set(run_ids)

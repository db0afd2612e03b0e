"""Parse time of the DAG folder with many connector files (the dag-processor's cost).

Generates a workspace with N connector YAMLs (each with 3 streams mapped onto standard
entities), then parses ``dags/hrss_hub_dags.py`` the way Airflow's dag-processor does —
a fresh ``DagBag`` over the DAG folder — R times in fresh subprocesses and reports:

* ``cold``: wall time of a fresh interpreter importing Airflow and parsing (an upper bound,
  the dag-processor already has Airflow imported when it forks for a file);
* ``parse``: the DagBag's own ``process_file`` time for the file (what the dag-processor
  pays per parse), median of R.

    .venv/bin/python bench/bench_dag_parse.py [--systems 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"

PROBE = """
import json, time
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(dag_folder={dags!r})
took = time.perf_counter() - t0
assert bag.import_errors == {{}}, bag.import_errors
print("PROBE " + json.dumps({{"parse": took, "dags": len(bag.dags),
                              "tasks": sum(len(d.tasks) for d in bag.dags.values())}}))
"""


def connector(i: int) -> dict[str, object]:
    """A plausible SQL connector with three mapped streams."""
    return {
        "system": f"sys_{i:03d}",
        "title": f"系统 {i}",
        "kind": "sql",
        "connection": {"url_env": f"SYS_{i:03d}_URL"},
        "schedule": f"{i % 60} * * * *",
        "retries": 2,
        "retry_delay_seconds": 60,
        "owner": "hrss-data",
        "tags": ["bench"],
        "streams": [
            {"name": f"T{j}", "table": f"T{j}", "primary_key": ["id"], "cursor": "updated",
             "mapping": {"entity": entity, "source_key": ["id"],
                         "fields": {"citizen_id": {"from": "idno",
                                                   "normalize": "citizen_id"}}}}
            for j, entity in enumerate(("person", "employment", "contribution"))
        ],
    }


def main() -> int:
    """Generate the workspace, parse R times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hrss-bench-dags-") as tmp:
        ws = Path(tmp) / "ws"
        (ws / "connectors").mkdir(parents=True)
        (ws / "hub.yaml").write_text("hub_id: bench\nlevel: county\ndivision: '510107'\n",
                                     encoding="utf-8")
        for i in range(args.systems):
            (ws / "connectors" / f"sys_{i:03d}.yaml").write_text(
                yaml.safe_dump(connector(i), allow_unicode=True), encoding="utf-8")
        home = Path(tmp) / "airflow"
        env = {**os.environ, "AIRFLOW_HOME": str(home),
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
               "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
               "HRSS_HUB_CONFIG": str(ws / "hub.yaml")}
        parse: list[float] = []
        cold: list[float] = []
        info: dict[str, int] = {}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", PROBE.format(dags=str(DAGS))],
                                  env=env, capture_output=True, text=True, check=False)
            cold.append(time.perf_counter() - t0)
            line = next((x for x in done.stdout.splitlines() if x.startswith("PROBE ")), None)
            if done.returncode != 0 or line is None:
                print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                return 1
            result = json.loads(line[len("PROBE "):])
            parse.append(result["parse"])
            info = {"dags": result["dags"], "tasks": result["tasks"]}
    print(f"connector files: {args.systems}  DAGs: {info['dags']}  tasks: {info['tasks']}")
    print(f"parse (DagBag over dags/, Airflow already imported): median "
          f"{statistics.median(parse):.3f} s  min {min(parse):.3f} s  max {max(parse):.3f} s")
    print(f"per connector file: {statistics.median(parse) / args.systems * 1000:.1f} ms")
    print(f"cold (fresh interpreter incl. Airflow import): median "
          f"{statistics.median(cold):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``hrss-hub run --parallel N``: wall time serial vs parallel, threads vs processes.

Two workspaces, each run fresh every round (state folders removed):

* **demo**: ``hrss-hub demo`` (the demo world: 4 systems, files, SQL, REST, Great
  Expectations on), with hub.yaml ``parallel: N``; the answer key must match every time;
* **two-system**: a generated workspace with two SQL systems (``bench_e2e.py``'s AC01 table
  in two SQLite files, ``--rows`` each, both mapped to ``person``), run three ways:
  ``hrss-hub run --parallel 1``, ``--parallel 2`` (threads, the shipped mode), and
  *processes*: the same run with each stream in a process of its own (``start_run`` →
  ``run_one_stream`` per process → ``finish_run``, what the Airflow tasks do). The
  published content hash must be the same for all three.

Run under the bench lock: ``flock /work/coord/bench.lock .venv/bin/python
bench/bench_parallel.py [--rows 300000] [--persons 2000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
HUB = Path(sys.executable).parent / "hrss-hub"
STATE = (".hrss-hub", "exchange", "outbox", "quarantine", "reports")
RUN_COLUMNS = ("run_id", "extracted_at")
#: datasets the hub derives in each run: their timestamps are the time it did
DERIVED = ("person_master", "person_link", "finding")

#: the processes mode: one process per stream of one open run (as Airflow's tasks)
PROCESSES = """
import sys
from concurrent.futures import ProcessPoolExecutor
from hrss_hub.config import load_config
from hrss_hub.pipeline import finish_run, load_workspace_systems, run_one_stream, start_run

def one(args):
    config, system, stream, run_id = args
    return run_one_stream(load_config(config), system, stream, run_id)

if __name__ == "__main__":
    config, workers = sys.argv[1], int(sys.argv[2])
    cfg = load_config(config)
    systems = load_workspace_systems(cfg)
    run_id = start_run(cfg, "cli", sorted(systems))
    jobs = [(config, s, st.name, run_id) for s in sorted(systems) for st in systems[s].streams]
    with ProcessPoolExecutor(workers) as pool:
        streams = list(pool.map(one, jobs))
    summary = finish_run(cfg, run_id, streams)
    sys.exit(1 if summary.failed else 0)
"""


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("HRSS_HUB_")}
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent / "src"),
                                                      out.get("PYTHONPATH")]))
    return out


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def content_hash(ws: Path) -> str:
    """SHA-256 of every standard entity's sorted rows, without the per-run lineage columns
    (and the timestamps of the datasets the hub derives: the time it built them)."""
    from hrss_hub.config import load_config
    from hrss_hub.errors import PublishError
    from hrss_hub.exchange.reading import read_version
    from hrss_hub.standard.model import load_standard

    entities = sorted(load_standard(load_config(ws / "hub.yaml").standard_dir).entities)
    digest = hashlib.sha256()
    for name in entities:
        try:
            table = read_version(ws / "exchange", name)
        except PublishError:  # nothing published for this entity
            continue
        keep = [f.name for f in table.schema if f.name not in RUN_COLUMNS
                and not (name in DERIVED and pa.types.is_timestamp(f.type))]
        rows = sorted(json.dumps(r, sort_keys=True, default=str)
                      for r in table.select(keep).to_pylist())
        digest.update(name.encode())
        for row in rows:
            digest.update(row.encode())
    return digest.hexdigest()[:16]


def reset(ws: Path) -> None:
    for name in STATE:
        shutil.rmtree(ws / name, ignore_errors=True)


def set_parallel(ws: Path, workers: int | None) -> None:
    import yaml

    hub = yaml.safe_load((ws / "hub.yaml").read_text(encoding="utf-8"))
    hub.pop("parallel", None)
    if workers:
        hub["parallel"] = workers
    (ws / "hub.yaml").write_text(yaml.safe_dump(hub, allow_unicode=True, sort_keys=False),
                                 encoding="utf-8")


def two_systems(workdir: Path, rows: int) -> Path:
    """bench_e2e's workspace with a second system reading a copy of the table."""
    from bench_e2e import prepare

    ws = prepare("sqlite", rows, workdir).workspace
    shutil.copyfile(ws / "sources" / "si_core.db", ws / "sources" / "si2_core.db")
    text = (ws / "connectors" / "si.yaml").read_text(encoding="utf-8")
    (ws / "connectors" / "si2.yaml").write_text(
        text.replace("system: si\n", "system: si2\n").replace("si_core.db", "si2_core.db"),
        encoding="utf-8")
    return ws


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        root = Path(tmp)
        if not args.skip_demo:
            demo = root / "demo"
            times: dict[str, list[float]] = {"parallel 1": [], "parallel 2": []}
            hashes: set[str] = set()
            for _ in range(args.rounds):
                for label in times:
                    shutil.rmtree(demo, ignore_errors=True)
                    subprocess.run([str(HUB), "demo", "init", "--dir", str(demo), "--persons",
                                    str(args.persons)], check=True, capture_output=True,
                                   env=env())
                    set_parallel(demo, int(label.split()[1]))
                    times[label].append(timed([str(HUB), "demo", "--dir", str(demo),
                                               "--quiet"]))
                    hashes.add(content_hash(demo))
            if len(hashes) != 1:
                raise RuntimeError(f"demo: published content differs: {hashes}")
            results["demo"] = {k: median(v) for k, v in times.items()}
            print(f"demo ({args.persons} persons): {results['demo']} (rounds: {times})",
                  flush=True)
        ws = two_systems(root / "two", args.rows)
        script = root / "processes.py"
        script.write_text(PROCESSES, encoding="utf-8")
        config = str(ws / "hub.yaml")
        modes = {
            "parallel 1": [str(HUB), "run", "--config", config, "--quiet", "--parallel", "1"],
            "threads 2": [str(HUB), "run", "--config", config, "--quiet", "--parallel", "2"],
            "processes 2": [sys.executable, str(script), config, "2"],
        }
        times = {k: [] for k in modes}
        hashes = set()
        for _ in range(args.rounds):
            for label, cmd in modes.items():
                reset(ws)
                times[label].append(timed(cmd))
                hashes.add(content_hash(ws))
        if len(hashes) != 1:
            raise RuntimeError(f"two systems: published content differs: {hashes}")
        results[f"two systems x {args.rows:,} rows"] = {k: median(v) for k, v in times.items()}
        print(f"two systems: rounds {times}", flush=True)
    print(f"cores: {os.cpu_count()}, rounds: {args.rounds} (median wall seconds)")
    for name, figures in results.items():
        base = next(iter(figures.values()))
        print(f"{name}: " + ", ".join(f"{k} {v:.2f} s ({base / v:.2f}x)"
                                      for k, v in figures.items()))
    print("published content: identical in every mode")


if __name__ == "__main__":
    main()

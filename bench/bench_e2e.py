"""End to end against peers: ``hrss-hub run`` vs dlt, raw ADBC and connectorx (issue #13).

Generates an N-row 金保-style AC01 table (``e2e_data.py``: valid citizen IDs with ~4%
planted defects, names, codes, dates, a cursor; 9 text/integer columns) in SQLite and/or
in a PostgreSQL database of its own (dropped afterwards), writes a workspace the way a
user would (``hub.yaml`` + ``connectors/si.yaml`` mapping AC01 → ``person``), then runs
round after round, each tool in turn on the same data, each in its own child process:

* ``hrss-hub``       — ``hrss-hub run --json`` (subprocess; fresh workspace state each round)
* ``hrss-hub-nogx``  — the same with ``HRSS_HUB_GX=0`` (what Great Expectations costs)
* ``dlt``            — dlt ``sql_table(backend="pyarrow")`` → filesystem Parquet
* ``adbc``           — raw ADBC ``fetch_record_batch`` → ParquetWriter zstd (the ceiling)
* ``connectorx``     — connectorx → Arrow → Parquet

Per tool: median wall time of the process (start-up and imports included, as a user
waits for them), peak RSS (the largest process of the tool's tree from ``wait4``, or the
sampled sum over the tree if larger), rows/s and hrss-hub's time and RSS divided by the
tool's. Every run is checked before it counts: each tool's Parquet files hold the rows it
reports; hrss-hub reads every row, publishes the clean ones, quarantines exactly the
planted defects, and publishes the same content (hash of the sorted rows) every round.

hrss-hub's time per stage comes from the run summary when it carries per-stage timings
(``timings``); with ``--profile``, or when it has none, also from one extra run under a
stage sampler (``e2e_profile.py``: wall and CPU seconds and peak RSS per stage, including
imports, the duplicate-key set and the suite counts); ``--call-tree`` adds a pyinstrument
call tree of that run. The output says which source each figure comes from.

Usage::

    python bench/bench_e2e.py                       # 1M rows, SQLite and PostgreSQL, 3 rounds
    python bench/bench_e2e.py --rows 10000000 --db sqlite --tools hrss-hub   # memory check
    python bench/bench_e2e.py --rows 2000 --rounds 1 --json out.json         # smoke run
    python bench/bench_e2e.py --deliver     # + one sharing agreement: publishing delivers
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TOOLS = ("hrss-hub", "hrss-hub-nogx", "dlt", "adbc", "connectorx")
LABELS = {
    "hrss-hub": "hrss-hub run",
    "hrss-hub-nogx": "hrss-hub run, HRSS_HUB_GX=0",
    "dlt": "dlt sql_table → Parquet",
    "adbc": "raw ADBC → Parquet (ceiling)",
    "connectorx": "connectorx → Parquet",
}
PG_SERVER = os.environ.get("HRSS_TEST_PG_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
URL_ENV = "HRSS_BENCH_SI_URL"  # the connector file names it, as a user keeps URLs out of YAML
#: workspace folders a run writes; removed before every round
STATE_DIRS = (".hrss-hub", "exchange", "outbox", "quarantine", "reports")
#: run-specific lineage, left out of the content hash
RUN_COLUMNS = ("run_id", "extracted_at")

HUB_YAML = """\
# bench workspace (bench/bench_e2e.py): one bureau, one source system
hub_id: bench-e2e
level: district
division: "510107"
connectors: connectors
exchange_root: exchange
quarantine_dir: quarantine
reports_dir: reports
state_dir: .hrss-hub
"""

#: ``--deliver``: one sharing agreement, so publishing also delivers (pseudonymised IDs)
AGREEMENT_YAML = """\
# 医疗保障局: insured persons' identity check; pseudonymised citizen ID, partial name
recipient:
  id: medical-insurance
  name: 成都市武侯区医疗保障局
  level: district
  division: "510107"
purpose: 医保参保人员身份核验
legal_basis: 《社会保险法》第五十八条；《个人信息保护法》第十三条第一款第（三）项
valid_from: 2026-01-01
valid_to: 2030-12-31
rows:
  division_prefix: "510107"
datasets:
  person:
    columns:
      citizen_id: pseudonym
      name: partial
      gender: keep
      birth_date: keep
      address_division: keep
"""

CONNECTOR_YAML = """\
# 社保核心系统: the 个人基本信息 table AC01, read incrementally by its change time
system: si
title: 社保核心系统 / social-insurance core (bench)
kind: sql
connection:
{connection}
batch_size: 50000
streams:
  - name: AC01
    table: AC01
    primary_key: [AAC001]
    cursor: AAE036
    mapping:
      entity: person
      source_key: [AAC001]
      fields:
        citizen_id: {{from: AAC002, normalize: citizen_id}}
        citizen_id_raw: {{from: AAC002}}
        id_type: {{const: "01"}}
        address_division: {{const: "510107"}}
        name: {{from: AAC003, normalize: name}}
        name_raw: {{from: AAC003}}
        gender: {{from: AAC004, map: {{"1": "1", "2": "2"}}, fallback: quarantine}}
        ethnicity: {{from: AAC005, codes: ethnicity}}
        birth_date: {{from: AAC006, normalize: date}}
        education: {{from: AAC011, codes: education}}
        hukou_type:
          from: AAC009
          map: {{"10": "1", "20": "2", "31": "R1", "32": "R2"}}
          fallback: "0"
"""


class BenchError(RuntimeError):
    """A tool failed or produced a wrong result: the bench does not report it as a time."""


# --------------------------------------------------------------------------- measuring


@dataclass
class Measured:
    """One child process: wall seconds and peak memory."""

    wall_seconds: float
    cpu_seconds: float  # user + system of the tool's processes: steadier than wall on a busy box
    peak_rss_mib: float  # the largest process of the tree (wait4's ru_maxrss)
    tree_peak_mib: float  # sampled sum over the process tree
    exit_code: int
    stdout: str
    stderr: str

    @property
    def peak_mib(self) -> float:
        """Peak RSS of the tool: the larger of the exact per-process peak and the sampled
        tree sum (they differ when a tool runs several processes)."""
        return max(self.peak_rss_mib, self.tree_peak_mib)


#: Runs the tool as a child of a small process and reports the tool's own rusage. Linux
#: carries the peak RSS of the address space a process had before ``exec`` into its
#: ``ru_maxrss`` (and a fork starts from its parent's current RSS), so a tool spawned
#: straight from this bench (pyarrow and a generated table loaded) would inherit the
#: bench's peak; forked from this ~10 MiB launcher, its ``ru_maxrss`` is its own.
_LAUNCHER = """
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as fh:
    json.dump({"wall": time.perf_counter() - t0, "maxrss_kib": usage.ru_maxrss,
               "cpu": usage.ru_utime + usage.ru_stime}, fh)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _sample_tree(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Sum of RSS over the launcher's descendants, every 50 ms, into ``peak[0]``."""
    import psutil

    try:
        launcher = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        try:
            total = 0
            for p in launcher.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            peak[0] = max(peak[0], total / 2**20)
        except psutil.NoSuchProcess:
            return
        stop.wait(0.05)


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> Measured:
    """Run ``cmd`` as a child (through the launcher); its wall time, peak RSS and output."""
    with tempfile.TemporaryDirectory() as tmp:
        usage_file = Path(tmp) / "usage.json"
        with (Path(tmp) / "out").open("w+") as out, (Path(tmp) / "err").open("w+") as err:
            proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, str(usage_file),
                                     *cmd], env=env, cwd=cwd, stdout=out, stderr=err)
            stop, peak = threading.Event(), [0.0]
            sampler = threading.Thread(target=_sample_tree, args=(proc.pid, stop, peak),
                                       daemon=True)
            sampler.start()
            code = proc.wait()
            stop.set()
            sampler.join()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if not usage_file.exists():
            raise BenchError(f"launcher failed ({code}) for {cmd[0]}:\n{stderr[-2000:]}")
        usage = json.loads(usage_file.read_text(encoding="utf-8"))
    return Measured(round(usage["wall"], 3), round(usage["cpu"], 3),
                    round(usage["maxrss_kib"] / 1024, 1), round(peak[0], 1), code, stdout,
                    stderr)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------- sources


@dataclass
class Prepared:
    """One database with the bench table, and the workspace reading it."""

    backend: str
    source: Any  # e2e_tools.Source
    workspace: Path
    env: dict[str, str]
    plan: Any  # e2e_data.Plan
    generate_seconds: float
    cleanup: Any = None  # callable dropping the PostgreSQL database


def prepare(backend: str, rows: int, workdir: Path, deliver: bool = False) -> Prepared:
    """Create and fill the source database, write the workspace (with one sharing
    agreement when ``deliver``)."""
    import e2e_data
    import e2e_tools

    ws = workdir / backend / "workspace"
    (ws / "connectors").mkdir(parents=True, exist_ok=True)
    (ws / "sources").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HRSS_HUB_") and k != URL_ENV}
    t0 = time.perf_counter()
    cleanup = None
    if backend == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        db = ws / "sources" / "si_core.db"
        db.unlink(missing_ok=True)
        url = f"sqlite:///{db}"
        with sqlite_dbapi.connect(str(db)) as conn:
            plan = e2e_data.load(conn, backend, rows)
        # relative to the workspace, as a user writes it
        connection = "  url: sqlite:///sources/si_core.db"
    else:
        import adbc_driver_postgresql.dbapi as pg_dbapi

        url, cleanup = _pg_database()
        try:
            with pg_dbapi.connect(e2e_tools.Source(backend, url, "").libpq_url) as conn:
                plan = e2e_data.load(conn, backend, rows)
        except BaseException:
            cleanup()
            raise
        env[URL_ENV] = url
        connection = f"  url_env: {URL_ENV}"
    seconds = time.perf_counter() - t0
    (ws / "hub.yaml").write_text(HUB_YAML + ("sharing: sharing\n" if deliver else ""),
                                 encoding="utf-8")
    if deliver:
        (ws / "sharing").mkdir(exist_ok=True)
        (ws / "sharing" / "medical-insurance.yaml").write_text(AGREEMENT_YAML, encoding="utf-8")
    connector = re.sub(r"\b(A[A-Z]{2}\d{3}|AC01)\b",
                       lambda m: e2e_data.identifier(m.group(0), backend),
                       CONNECTOR_YAML.format(connection=connection))
    (ws / "connectors" / "si.yaml").write_text(connector, encoding="utf-8")
    source = e2e_tools.Source(backend, url, e2e_data.identifier(e2e_data.TABLE, backend))
    return Prepared(backend, source, ws, env, plan, round(seconds, 2), cleanup)


def _pg_database() -> tuple[str, Any]:
    """A new PostgreSQL database for this bench run and the function that drops it."""
    import sqlalchemy as sa

    name = f"hrss_bench_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    url = sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    return url, drop


# --------------------------------------------------------------------------- one round


@dataclass
class Round:
    """One run of one tool."""

    wall_seconds: float
    cpu_seconds: float
    peak_mib: float
    peak_rss_mib: float
    tree_peak_mib: float
    rows_reported: int
    rows_written: int
    work_seconds: float | None = None
    hub: dict[str, Any] | None = None  # hrss-hub only: counts, content hash, summary


def run_hub(prep: Prepared, gx: bool) -> tuple[Round, dict[str, Any]]:
    """One ``hrss-hub run`` from fresh workspace state; checked against the plan."""
    for name in STATE_DIRS:
        shutil.rmtree(prep.workspace / name, ignore_errors=True)
    env = dict(prep.env)
    if not gx:
        env["HRSS_HUB_GX"] = "0"
    hub = str(Path(sys.executable).with_name("hrss-hub"))
    m = measure([hub, "run", "--config", str(prep.workspace / "hub.yaml"), "--json",
                 "--quiet"], env, prep.workspace)
    if m.exit_code:
        raise BenchError(f"hrss-hub run exited {m.exit_code}:\n{m.stderr[-3000:]}")
    summary = json.loads(m.stdout)
    checked = check_hub(prep, summary)
    return Round(m.wall_seconds, m.cpu_seconds, m.peak_mib, m.peak_rss_mib, m.tree_peak_mib,
                 checked["read"], checked["written"], hub=checked), summary


def check_hub(prep: Prepared, summary: dict[str, Any]) -> dict[str, Any]:
    """Every row accounted for and every planted defect quarantined; returns the counts
    and the content hash of what was published."""
    import pyarrow.parquet as pq

    from hrss_hub.exchange import dataset

    streams = [s for system in summary["systems"] for s in system["streams"]]
    if len(streams) != 1 or streams[0]["status"] != "succeeded":
        raise BenchError(f"expected one succeeded stream, got {streams}")
    s = streams[0]
    plan = prep.plan
    problems = []
    if s["read"] != plan.rows:
        problems.append(f"read {s['read']:,} of {plan.rows:,} rows")
    if s["published"] + s["quarantined"] + s["filtered"] != s["read"]:
        problems.append("published + quarantined + filtered != read")
    if s["quarantined"] != plan.defective:
        problems.append(f"quarantined {s['quarantined']:,} rows, planted "
                        f"{plan.defective:,} defects ({dict(plan.defects)}); by rule: "
                        f"{s['quarantined_by_rule']}")
    published = dataset(prep.workspace / "exchange", "person")
    written = published.count_rows()
    if written != s["published"]:
        problems.append(f"summary says {s['published']:,} published, the exchange holds "
                        f"{written:,} rows")
    in_quarantine = (pq.ParquetFile(s["quarantine_file"]).metadata.num_rows
                     if s["quarantine_file"] else 0)
    if in_quarantine != s["quarantined"]:
        problems.append(f"quarantine file holds {in_quarantine:,} of {s['quarantined']:,}")
    if (prep.workspace / "sharing").is_dir():  # every published row is in the recipient's scope
        delivered = [d for d in (summary.get("publishing") or {}).get("deliveries") or []
                     if d.get("status") != "unchanged"]
        if [d["rows"] for d in delivered] != [s["published"]]:
            problems.append(f"expected one delivery of {s['published']:,} rows, got "
                            f"{[(d['recipient'], d['status'], d['rows']) for d in delivered]}")
    if problems:
        raise BenchError("hrss-hub result is wrong: " + "; ".join(problems))
    return {"read": s["read"], "written": written + in_quarantine + s["filtered"],
            "timings": summary_stages(summary),
            "published": s["published"], "quarantined": s["quarantined"],
            "filtered": s["filtered"], "quarantined_by_rule": s["quarantined_by_rule"],
            "content_sha256": content_hash(published)}


def content_hash(ds: Any, drop: tuple[str, ...] = RUN_COLUMNS) -> str:
    """SHA-256 of the published rows sorted by every column, run lineage (``drop``) left
    out: the same source gives the same hash before and after an optimisation."""
    import hashlib

    import pyarrow as pa

    table = ds.to_table()
    table = table.drop_columns([c for c in drop if c in table.column_names])
    table = table.select(sorted(table.column_names))
    table = table.sort_by([(c, "ascending") for c in table.column_names])
    plain = pa.schema([pa.field(f.name, f.type, f.nullable) for f in table.schema])
    table = table.cast(plain).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, plain) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def run_peer(prep: Prepared, name: str, out: Path) -> Round:
    """One peer copy in its own child process; its files must hold the rows it reports."""
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    src = prep.source
    m = measure([sys.executable, str(Path(__file__).resolve()), "--_tool", name, src.backend,
                 src.sqlalchemy_url, src.table, str(out)], prep.env, out)
    if m.exit_code:
        raise BenchError(f"{name} exited {m.exit_code}:\n{m.stderr[-3000:]}")
    reported = json.loads(m.stdout.strip().splitlines()[-1])
    files = [p for p in out.rglob("*.parquet") if ".dlt" not in p.parts
             and "_dlt" not in p.parent.name]
    written = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    if written != reported["rows"] or written != prep.plan.rows:
        raise BenchError(f"{name} reported {reported['rows']:,} rows, its files hold "
                         f"{written:,}, the table has {prep.plan.rows:,}")
    shutil.rmtree(out, ignore_errors=True)
    return Round(m.wall_seconds, m.cpu_seconds, m.peak_mib, m.peak_rss_mib, m.tree_peak_mib,
                 reported["rows"], written, work_seconds=reported["work_seconds"])


# --------------------------------------------------------------------------- stages


def summary_stages(summary: dict[str, Any]) -> dict[str, float] | None:
    """Per-stage seconds from a run summary, when it carries them: the run's own
    (``timings`` / ``stage_seconds``) plus every stream's, added up."""
    totals: dict[str, float] = {}
    found = False
    streams = [s for system in summary.get("systems", []) for s in system.get("streams", [])]
    for part in (summary, *streams):
        timings = part.get("timings") or part.get("stage_seconds")
        if isinstance(timings, dict):
            found = True
            for stage, seconds in timings.items():
                if isinstance(seconds, int | float):
                    totals[stage] = round(totals.get(stage, 0.0) + float(seconds), 3)
    return totals if found else None


def profile_stages(prep: Prepared, out: Path, call_tree: bool) -> dict[str, Any]:
    """One extra ``hrss-hub run`` under the stage sampler (not counted in the medians)."""
    for name in STATE_DIRS:
        shutil.rmtree(prep.workspace / name, ignore_errors=True)
    m = measure([sys.executable, str(Path(__file__).resolve()), "--_profile",
                 str(prep.workspace / "hub.yaml"), str(out),
                 *(["--call-tree"] if call_tree else [])], prep.env, prep.workspace)
    if m.exit_code:
        raise BenchError(f"profiled hrss-hub run exited {m.exit_code}:\n{m.stderr[-3000:]}")
    result: dict[str, Any] = json.loads((out / "stages.json").read_text(encoding="utf-8"))
    if result["exit_code"] not in (0, None):
        raise BenchError(f"profiled hrss-hub run returned {result['exit_code']}")
    # what the sampler cannot see: the interpreter starting and finalizing (exit)
    result["process_wall_seconds"] = m.wall_seconds
    result["process_cpu_seconds"] = m.cpu_seconds
    return result


# --------------------------------------------------------------------------- a database


@dataclass
class ToolResult:
    """All rounds of one tool on one database, and their medians."""

    rounds: list[Round] = field(default_factory=list)
    error: str | None = None

    @property
    def median_wall(self) -> float:
        return round(statistics.median(r.wall_seconds for r in self.rounds), 3)

    @property
    def median_cpu(self) -> float:
        return round(statistics.median(r.cpu_seconds for r in self.rounds), 3)

    @property
    def median_peak(self) -> float:
        return round(statistics.median(r.peak_mib for r in self.rounds), 1)


def bench_database(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Prepare one database, run every tool round after round, and summarize."""
    print(f"[{backend}] generating {args.rows:,} rows …", file=sys.stderr, flush=True)
    prep = prepare(backend, args.rows, workdir, deliver=args.deliver)
    try:
        results = {t: ToolResult() for t in args.tools}
        load_before = _load()
        for r in range(1, args.rounds + 1):
            for tool in args.tools:
                print(f"[{backend}] round {r}/{args.rounds}: {tool} …", file=sys.stderr,
                      flush=True)
                try:
                    if tool.startswith("hrss-hub"):
                        rnd, _ = run_hub(prep, gx=tool == "hrss-hub")
                    else:
                        rnd = run_peer(prep, tool, workdir / backend / tool)
                except BenchError as exc:
                    results[tool].error = str(exc)
                    print(f"[{backend}] {tool} FAILED: {exc}", file=sys.stderr, flush=True)
                    continue
                results[tool].rounds.append(rnd)
        load_after = _load()
        stages: dict[str, Any] = {"summary": None, "profile": None}
        hub = results.get("hrss-hub")
        if hub is not None and hub.rounds and not hub.error:
            stages["summary"] = _median_stages([r.hub["timings"] for r in hub.rounds
                                                if r.hub and r.hub["timings"] is not None])
            if args.profile or (stages["summary"] is None and not args.no_profile):
                print(f"[{backend}] profiling one more hrss-hub run …", file=sys.stderr,
                      flush=True)
                stages["profile"] = profile_stages(prep, workdir / backend / "profile",
                                                   args.call_tree)
        return _database_result(prep, args, results, stages, load_before, load_after)

    finally:
        if prep.cleanup is not None:
            prep.cleanup()


def _median_stages(rounds: list[dict[str, float]]) -> dict[str, float] | None:
    """Per stage, the median over the rounds whose summary carried timings."""
    if not rounds:
        return None
    keys = list(dict.fromkeys(k for r in rounds for k in r))
    return {k: round(statistics.median(r.get(k, 0.0) for r in rounds), 3) for k in keys}


def _database_result(prep: Prepared, args: argparse.Namespace,
                     results: dict[str, ToolResult], stages: dict[str, Any],
                     load_before: list[float], load_after: list[float]) -> dict[str, Any]:
    hub = results.get("hrss-hub")
    base = hub if hub is not None and hub.rounds else None
    tools: dict[str, Any] = {}
    for name, res in results.items():
        entry: dict[str, Any] = {"label": LABELS[name], "error": res.error,
                                 "rounds": [asdict(r) for r in res.rounds]}
        if res.rounds and not res.error:
            entry.update(median_wall_seconds=res.median_wall, median_cpu_seconds=res.median_cpu,
                         median_peak_rss_mib=res.median_peak,
                         rows_per_second=round(args.rows / res.median_wall))
            if base is not None:
                entry["hub_time_ratio"] = round(base.median_wall / res.median_wall, 2)
                entry["hub_cpu_ratio"] = round(base.median_cpu / res.median_cpu, 2)
                entry["hub_rss_ratio"] = round(base.median_peak / res.median_peak, 2)
        tools[name] = entry
    hashes = sorted({r.hub["content_sha256"] for r in (hub.rounds if hub else []) if r.hub})
    if len(hashes) > 1:
        raise BenchError(f"hrss-hub published different content across rounds: {hashes}")
    counts = hub.rounds[-1].hub if hub and hub.rounds and hub.rounds[-1].hub else None
    return {"backend": prep.backend, "database": prep.source.database, "rows": args.rows,
            "rounds": args.rounds,
            "generate_seconds": prep.generate_seconds,
            "planted_defects": dict(sorted(prep.plan.defects.items())),
            "load_before": load_before, "load_after": load_after,
            "tools": tools, "hub_counts": counts, "stages": stages}


# --------------------------------------------------------------------------- output


def _table(result: dict[str, Any]) -> str:
    rows, lines = result["rows"], []
    lines.append(f"\n{result['backend']}: {rows:,} rows, {result['rounds']} round(s); load "
                 f"average {' '.join(map(str, result['load_before']))} before, "
                 f"{' '.join(map(str, result['load_after']))} after")
    lines.append(f"  {'tool':<30}{'median wall':>12}{'rows/s':>11}{'peak RSS':>11}"
                 f"{'hub time ×':>12}{'hub RSS ×':>11}{'CPU':>9}{'hub CPU ×':>11}")
    for t in result["tools"].values():
        if t.get("error") or "median_wall_seconds" not in t:
            lines.append(f"  {t['label']:<30}  FAILED: {(t.get('error') or '').splitlines()[0]}")
            continue
        lines.append(f"  {t['label']:<30}{t['median_wall_seconds']:>10.2f} s"
                     f"{t['rows_per_second']:>11,}{t['median_peak_rss_mib']:>7,.0f} MiB"
                     f"{t.get('hub_time_ratio', float('nan')):>12.2f}"
                     f"{t.get('hub_rss_ratio', float('nan')):>11.2f}"
                     f"{t['median_cpu_seconds']:>7.2f} s"
                     f"{t.get('hub_cpu_ratio', float('nan')):>11.2f}")
    counts = result.get("hub_counts")
    if counts:
        lines.append(f"  hrss-hub: published {counts['published']:,}, quarantined "
                     f"{counts['quarantined']:,} (= planted defects), filtered "
                     f"{counts['filtered']:,}; content sha256 {counts['content_sha256'][:16]}…")
    summary, profile = result["stages"]["summary"], result["stages"]["profile"]
    if summary:
        lines.append("  hrss-hub seconds per stage (run summary, median of the rounds): "
                     + ", ".join(f"{k} {v:.2f}" for k, v in summary.items()))
    elif profile is None:
        lines.append("  hrss-hub seconds per stage: the run summary carries no timings "
                     "(and --no-profile)")
    if profile:
        note = "; the run summary carries no timings" if not summary else ""
        if profile["distorted_by_call_tree"]:
            note += "; recorded with pyinstrument too, which inflates Python-heavy stages"
        outside = profile["process_wall_seconds"] - profile["wall_seconds"]
        lines.append(f"  hrss-hub by stage, one extra sampled run ({profile['wall_seconds']:.1f} s "
                     f"wall, {profile['cpu_seconds']:.1f} s CPU sampled; +{outside:.1f} s wall "
                     f"outside it: interpreter start-up and exit{note}):")
        lines.append(f"    {'stage':<24}{'wall s':>8}{'CPU s':>8}{'main-thread CPU s':>19}"
                     f"{'peak RSS':>10}{'RSS added':>11}")
        for stage, v in profile["stages"].items():
            lines.append(f"    {stage:<24}{v['seconds']:>8.2f}{v['cpu_seconds']:>8.2f}"
                         f"{v['main_cpu_seconds']:>19.2f}{v['peak_mib']:>6,.0f} MiB"
                         f"{v['grew_mib']:>+7,.0f} MiB")
    return "\n".join(lines)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("hrss-hub", "pyarrow", "dlt", "connectorx", "adbc-driver-sqlite",
                 "adbc-driver-postgresql", "great-expectations", "sqlalchemy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line of the bench; exit 1 when a tool failed or a result was wrong."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--json", dest="json_out", type=Path, default=None,
                        help="also write every figure to this JSON file")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the databases, workspaces and profiles here")
    parser.add_argument("--deliver", action="store_true",
                        help="add one sharing agreement, so each run also delivers")
    parser.add_argument("--profile", action="store_true",
                        help="profile one extra hrss-hub run even if the summary has timings")
    parser.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument("--call-tree", action="store_true",
                        help="record the profiled run with pyinstrument too (profile.html; "
                             "distorts its stage figures)")
    parser.add_argument("--_tool", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--_profile", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BENCH))
    if args._tool:
        import e2e_tools

        name, backend, url, table, out = args._tool
        copied = e2e_tools.run_peer(name, e2e_tools.Source(backend, url, table), Path(out))
        print(json.dumps(copied))
        return 0
    if args._profile:
        import e2e_profile

        e2e_profile.profile_run(Path(args._profile[0]), Path(args._profile[1]),
                                call_tree=args.call_tree)
        return 0
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown or args.rows <= 0 or args.rounds <= 0:
        parser.error(f"unknown tool(s) {unknown}; valid: {', '.join(TOOLS)}" if unknown
                     else "--rows and --rounds must be positive")
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hrss-bench-e2e-"))
    report: dict[str, Any] = {"rows": args.rows, "rounds": args.rounds, "tools": args.tools,
                              "deliver": args.deliver,
                              "cpus": os.cpu_count(), "versions": _versions(),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "databases": {}}
    failed = False
    try:
        for backend in backends:
            result = bench_database(backend, args, workdir)
            report["databases"][backend] = result
            failed |= any(t.get("error") for t in result["tools"].values())
            print(_table(result), flush=True)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        failed = True
    finally:
        if args.json_out:
            args.json_out.write_text(json.dumps(report, indent=1, ensure_ascii=False),
                                     encoding="utf-8")
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

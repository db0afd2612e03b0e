"""The person master and the supervision checks at scale: N persons (default 1M) in two
systems with 12 months of contributions and pension payments, 1% of one system's person
records carrying a mistyped or missing citizen ID: half of them a different, still
checksum-valid number (published: a master person of its own), a quarter a number failing
its checksum and a quarter none (quarantined by the row gate: the bench writes their
quarantine file as the gate does).

Setup (timed, not the target): the enrollments, contributions, payments and civil-status
events are staged and published as a run would. Then one child process (``--child``)
does what a run's publish step does — master build from the staged person records,
publish, Splink record linkage into the review queue, every supervision check — and
reports the wall time of each step and its peak RSS (``VmHWM``, reset between steps: the
peak of each step and the largest; target ≤ 1.5 GiB, DuckDB capped by hub.yaml
``duckdb.memory_limit`` and spilling beyond it).

Linkage quality: the true pairs are (the person's record in si_core, its record with the
mistyped ID in employment); the queue's pairs at the default threshold give precision and
recall (targets ≥ 95% both), over all three kinds of slip.

Run: ``python bench/bench_master.py [--persons 1000000] [--keep DIR]``; develop with
``--persons 20000``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红文辉鹏飞宇浩然欣怡")
DIVISIONS = ["510104", "510105", "510106", "510107", "510108", "510112"]
MONTHS = [f"2025{m:02d}" for m in range(1, 13)]
MISTYPED = 0.01


def _ids(addr: np.ndarray, births: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Valid 18-character IDs from address codes, birth days (ordinal) and sequence numbers."""
    days = np.array([date.fromordinal(int(d)).strftime("%Y%m%d") for d in births])
    bodies = np.char.add(np.char.add(addr, days), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(bodies.tolist()).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    checks = np.array(list("10X98765432"))[(digits.astype(np.int64) @ WEIGHTS) % 11]
    return np.char.add(bodies, checks)


def population(n: int, seed: int) -> dict[str, np.ndarray]:
    """N distinct persons (canonical facts) and the 1% whose second record is mistyped."""
    rng = np.random.default_rng(seed)
    addr = np.array(DIVISIONS)[rng.integers(0, len(DIVISIONS), n)]
    births = rng.integers(date(1950, 1, 1).toordinal(), date(2003, 12, 31).toordinal(), n)
    seq = np.arange(n) % 1000  # with the birth day and address: unique for n ≤ ~90M
    ids = _ids(addr, births, seq)
    _, first = np.unique(ids, return_index=True)
    keep = np.sort(first)
    addr, births, seq, ids = addr[keep], births[keep], seq[keep], ids[keep]
    n = len(ids)
    names = np.char.add(np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)],
                        np.char.add(np.array(GIVEN)[rng.integers(0, len(GIVEN), n)],
                                    np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]))
    gender = np.where(seq % 2 == 1, "1", "2")
    # distinct 9-digit numbers: an affine map of 0..n-1 (7919 is coprime with 10^9), shuffled
    phones = np.char.add("13", np.char.zfill(
        ((rng.permutation(n).astype(np.int64) * 7919 + 12345) % 10**9).astype(str), 9))
    mistyped = rng.random(n) < MISTYPED
    # a clerk's slip in the sequence digits: a different ID, still checksum-valid
    other = (seq + 2 * rng.integers(1, 400, n)) % 1000
    typo = _ids(addr, births, other)
    taken = set(ids.tolist())
    mistyped &= np.array([t not in taken for t in typo.tolist()])
    # 0: a different valid number, 1: a checksum failure, 2: no number (1, 2: quarantined)
    kind = np.where(mistyped, rng.choice(3, n, p=[0.5, 0.25, 0.25]), -1)
    # another check character than the right one: a number failing its checksum
    bad = np.array([t[:17] + ("0" if t[17] != "0" else "1") for t in typo.tolist()])
    return {"ids": ids, "typo": np.where(mistyped, typo, ids), "mistyped": mistyped,
            "kind": kind, "bad": bad,
            "addr": addr, "births": births, "names": names, "gender": gender,
            "phones": phones}


def _table(entity: Any, cols: dict[str, Any], n: int, system: str, run_id: str) -> pa.Table:
    from hrss_hub.exchange.layout import entity_schema

    schema = entity_schema(entity)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    full = {"source_system": pa.array([system] * n), "run_id": pa.array([run_id] * n),
            "extracted_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")), **cols}
    return pa.table({f.name: (pa.array(full[f.name], f.type) if f.name in full
                              else pa.nulls(n, f.type)) for f in schema})


def stage(cfg: Any, entity: Any, table: pa.Table, system: str, tag: str, run_id: str) -> None:
    """Stage ``table`` as a stream of ``system`` does."""
    from hrss_hub.exchange.staging import ParquetSink, publish_files

    sink = ParquetSink(cfg.exchange_root / ".staging" / run_id / entity.name,
                       f"{system}.{entity.name}.{tag}", table.schema)
    for batch in table.to_batches(max_chunksize=500_000):
        sink.write(pa.Table.from_batches([batch]))
    publish_files(cfg.exchange_root, entity.name, table.schema, sink.close(), run_id=run_id,
                  system=system, stream=entity.name, standard_version="1.1.0",
                  hub={"hub_id": cfg.hub_id, "level": cfg.level, "division": cfg.division})


def quarantine(cfg: Any, run_id: str, pop: dict[str, np.ndarray], rows: np.ndarray,
               births: pa.Array) -> None:
    """The quarantine file the row gate writes for the employment person records with a
    number failing its checksum (``citizen_id_invalid``) or none (``required``)."""
    from hrss_hub.quality.gate import QUARANTINE_SCHEMA, _json_records
    from hrss_hub.quality.reprocess import quarantine_path
    from hrss_hub.quality.spool import QuarantineSpool

    k = len(rows)
    missing = pop["kind"][rows] == 2
    raw = pa.array(np.where(missing, None, pop["bad"][rows]).tolist(), pa.string())
    record = _json_records({
        "citizen_id": pa.nulls(k, pa.string()), "citizen_id_raw": raw,
        "name": pa.array(pop["names"][rows]), "gender": pa.array(pop["gender"][rows]),
        "birth_date": births.take(rows), "phone": pa.array(pop["phones"][rows]),
        "address_division": pa.array(pop["addr"][rows])})
    spool = QuarantineSpool(quarantine_path(cfg.quarantine_dir, run_id, "employment",
                                            "persons"))
    spool.add(pa.table({
        "run_id": [run_id] * k, "system": ["employment"] * k, "stream": ["persons"] * k,
        "entity": ["person"] * k,
        "source_key": np.char.add("employment|", rows.astype(str)).tolist(),
        "location": [None] * k,
        "rules": [["required"] if m else ["citizen_id_invalid"] for m in missing],
        "fields": [["citizen_id"]] * k,
        "offending_values": [[None] if m else [v] for m, v in zip(missing, raw.to_pylist(),
                                                                  strict=True)],
        "record": record}, schema=QUARANTINE_SCHEMA))
    spool.close()


def _cfg(root: Path) -> Any:
    from hrss_hub.config import HubConfig

    (root / "hub.yaml").write_text("hub_id: bench\nlevel: city\ndivision: '510100'\n",
                                   encoding="utf-8")
    return HubConfig(root=root, hub_id="bench", division="510100", level="city",
                     standard_dir=REPO / "standards", supervision_dir=REPO / "supervision",
                     duckdb={"memory_limit": "1GB", "threads": 2})


def setup(root: Path, n: int, seed: int) -> dict[str, Any]:
    """Publish everything but the persons; stage the persons for the measured step."""
    from hrss_hub.exchange.versions import publish_pending
    from hrss_hub.ledger import Ledger
    from hrss_hub.standard.model import load_standard

    std = load_standard(REPO / "standards")
    cfg = _cfg(root)
    pop = population(n, seed)
    n = len(pop["ids"])
    rng = np.random.default_rng(seed + 1)
    t0 = time.perf_counter()
    with Ledger.open(cfg.ledger_url) as ledger:
        run_id = ledger.start_run(cfg.hub_id, "cli")
        ids, addr = pop["ids"], pop["addr"]
        stage(cfg, std.entity("insurance_enrollment"), _table(std.entity("insurance_enrollment"), {
            "citizen_id": ids, "insurance_type": ["110"] * n,
            "start_date": pa.array([date(2015, 1, 1)] * n), "status": ["1"] * n,
            "division": addr, "source_key": np.char.add("AC02|", np.arange(n).astype(str))},
            n, "si_core", run_id), "si_core", "e", run_id)
        old = pop["births"] < date(1965, 1, 1).toordinal()
        workers = np.flatnonzero(~old)
        for m, month in enumerate(MONTHS):
            k = len(workers)
            stage(cfg, std.entity("contribution"), _table(std.entity("contribution"), {
                "citizen_id": ids[workers], "employer_uscc": ["91510107MA61RL6X4D"] * k,
                "insurance_type": ["110"] * k, "period": [month] * k,
                "base": pa.array([Decimal("6000.00")] * k, pa.decimal128(18, 2)),
                "division": addr[workers],
                "source_key": np.char.add(f"AC43|{m}|", np.arange(k).astype(str))},
                k, "si_core", run_id), "si_core", f"c{m}", run_id)
        pensioners = np.flatnonzero(old)
        deaths = pensioners[rng.random(len(pensioners)) < 0.01]
        death_day = {int(i): date(2025, 1 + int(i) % 11, 10) for i in deaths}
        for m, month in enumerate(MONTHS):
            # clean: payments stop after the death month, except for a planted 10%
            alive = np.array([i not in death_day or month <= f"{death_day[int(i)]:%Y%m}"
                              or int(i) % 10 == 0 for i in pensioners.tolist()], dtype=bool)
            p = pensioners[alive]
            k = len(p)
            stage(cfg, std.entity("benefit_payment"), _table(std.entity("benefit_payment"), {
                "citizen_id": ids[p], "benefit_type": ["101"] * k, "period": [month] * k,
                "payment_serial": ["1"] * k,
                "amount": pa.array([Decimal("3100.00")] * k, pa.decimal128(18, 2)),
                "division": addr[p],
                "source_key": np.char.add(f"AC63|{m}|", np.arange(k).astype(str))},
                k, "si_core", run_id), "si_core", f"p{m}", run_id)
        k = len(deaths)
        stage(cfg, std.entity("civil_status_event"), _table(std.entity("civil_status_event"), {
            "citizen_id": ids[deaths], "event_type": ["01"] * k,
            "event_date": pa.array([death_day[int(i)] for i in deaths], pa.date32()),
            "authority": ["民政局"] * k, "division": addr[deaths],
            "source_key": np.char.add("EV|", np.arange(k).astype(str))},
            k, "civil_register", run_id), "civil_register", "ev", run_id)
        publish_pending(cfg, ledger, None)
        published = time.perf_counter() - t0
        births = pa.array([date.fromordinal(int(d)) for d in pop["births"]], pa.date32())
        person = std.entity("person")
        gated = pop["kind"] >= 1  # quarantined by the row gate
        for system, idcol, rows in (("si_core", pop["ids"], np.arange(n)),
                                    ("employment", pop["typo"], np.flatnonzero(~gated))):
            k = len(rows)
            stage(cfg, person, _table(person, {
                "citizen_id": idcol[rows], "citizen_id_raw": idcol[rows],
                "id_type": ["01"] * k, "name": pop["names"][rows],
                "gender": pop["gender"][rows], "birth_date": births.take(rows),
                "phone": pop["phones"][rows], "address_division": addr[rows],
                "source_key": np.char.add(f"{system}|", rows.astype(str))},
                k, system, run_id), system, "persons", run_id)
        quarantine(cfg, run_id, pop, np.flatnonzero(gated), births)
        ledger.finish_run(run_id, "succeeded", {})
    truth = sorted(f"employment|{i}~si_core|{i}" for i in np.flatnonzero(pop["mistyped"]))
    (root / "truth.json").write_text(json.dumps(truth))
    return {"persons": n, "contribution_rows": len(workers) * 12,
            "mistyped": int(pop["mistyped"].sum()),
            "mistyped_kinds": {"different": int((pop["kind"] == 0).sum()),
                               "invalid": int((pop["kind"] == 1).sum()),
                               "missing": int((pop["kind"] == 2).sum())},
            "setup_publish_s": round(published, 1),
            "planted_after_death": int(sum(1 for i in deaths if int(i) % 10 == 0))}


def child(root: Path) -> dict[str, Any]:
    """The measured step, in its own process."""
    from hrss_hub.exchange.versions import publish_pending
    from hrss_hub.ledger import Ledger
    from hrss_hub.master.build import build_master
    from hrss_hub.master.linkage import propose_pairs
    from hrss_hub.master.review import ReviewStore, split_record
    from hrss_hub.supervision.run import supervise

    cfg = _cfg(root)
    out: dict[str, Any] = {}
    peaks: dict[str, int | None] = {}
    peaks["startup"] = _peak_mib(reset=True)  # imports, before the steps
    with Ledger.open(cfg.ledger_url) as ledger:
        run_id = ledger.start_run(cfg.hub_id, "cli")
        t, cpu = time.perf_counter(), time.process_time()
        m = build_master(cfg, ledger, run_id=run_id)
        out["master_build_s"] = round(time.perf_counter() - t, 1)
        out["master_build_cpu_s"] = round(time.process_time() - cpu, 1)  # all threads
        peaks["master_build"] = _peak_mib(reset=True)
        t = time.perf_counter()
        publish_pending(cfg, ledger, type("R", (), {"run_id": run_id})())
        out["publish_s"] = round(time.perf_counter() - t, 1)
        peaks["publish"] = _peak_mib(reset=True)
        t = time.perf_counter()
        link = propose_pairs(cfg, ledger)
        out["linkage_s"] = round(time.perf_counter() - t, 1)
        peaks["linkage"] = _peak_mib(reset=True)
        t = time.perf_counter()
        sup = supervise(cfg, ledger, run_id=run_id, publish=True)
        out["checks_s"] = round(time.perf_counter() - t, 1)
        peaks["checks"] = _peak_mib(reset=False)
        queue = ReviewStore(ledger).all("pending")
        ledger.finish_run(run_id, "succeeded", {})
    out["content_sha256"] = _content(cfg)
    truth = set(json.loads((root / "truth.json").read_text()))
    got = set()
    for r in queue:  # a pair's records by source key (the system is its first part)
        a, b = sorted((split_record(r.left)[2], split_record(r.right)[2]))
        got.add(f"{a}~{b}")
    hit = len(got & truth)
    out.update({"master": m.to_dict(), "linkage": link.to_dict(), "found": sup.found,
                "queue": len(got), "true_pairs": len(truth),
                "precision": round(hit / len(got), 4) if got else None,
                "recall": round(hit / len(truth), 4) if truth else None})
    out["peak_rss_mib"] = max((p for p in peaks.values() if p is not None), default=None)
    out["peak_rss_mib_by_step"] = peaks
    return out


def _content(cfg: Any) -> dict[str, str]:
    """The published master and links' content hashes (sorted rows, build lineage left
    out): a change to the build must leave them as they are."""
    from bench_e2e import content_hash

    from hrss_hub.exchange.reading import dataset
    from hrss_hub.master.derived import BUILD_COLUMNS

    return {name: content_hash(dataset(cfg.exchange_root, name), BUILD_COLUMNS)[:16]
            for name in ("person_master", "person_link")}


def _peak_mib(*, reset: bool) -> int | None:
    """The peak RSS (``VmHWM``) in MiB since the last reset; ``reset`` starts the next
    step's peak from the current RSS (Linux ``clear_refs`` 5)."""
    peak = None
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                peak = round(int(line.split()[1]) / 1024)
    if reset:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    return peak


def main() -> None:
    """Set up, measure in a child, print the figures against the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, default=None, help="Work in DIR and keep it.")
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-master-"))
    root.mkdir(parents=True, exist_ok=True)
    info = setup(root, args.persons, args.seed)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(root)], check=True,
                          capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["measured_wall_s"] = round(time.perf_counter() - t, 1)
    result.update(info)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    ok = ((result.get("peak_rss_mib") or 0) <= 1536
          and (result["precision"] or 0) >= 0.95 and (result["recall"] or 0) >= 0.95)
    print(f"targets (peak RSS ≤ 1.5 GiB, precision and recall ≥ 95%): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()

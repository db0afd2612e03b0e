"""A small demo world for the run tests, and what a run left in it, in comparable form.

Files (CSV drops, an Excel roster) and SQL sources; the REST system is left out (it needs
the demo server) and Great Expectations is off (the Arrow gate still checks every row),
so that a run takes seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from hrss_hub.config import load_config
from hrss_hub.demo.generator import generate_world
from hrss_hub.exchange.reading import read_version
from hrss_hub.ledger import Ledger

HUB = Path(sys.executable).parent / "hrss-hub"
SRC = Path(__file__).resolve().parents[2] / "src"
ENTITIES = ("contribution", "employer", "employment", "insurance_enrollment", "person")
#: lineage columns that differ between two runs of the same data by design
RUN_COLUMNS = ("run_id", "extracted_at")


def make_world(ws: Path) -> Path:
    """Generate the world into ``ws``: 20 persons, files + SQL, GX off."""
    generate_world(ws, persons=20, seed=7)
    (ws / "connectors" / "employment.yaml").unlink()
    hub = yaml.safe_load((ws / "hub.yaml").read_text(encoding="utf-8"))
    hub["gx"] = False
    (ws / "hub.yaml").write_text(yaml.safe_dump(hub, allow_unicode=True), encoding="utf-8")
    return ws


def hub_env(**extra: str) -> dict[str, str]:
    """The environment of an ``hrss-hub`` subprocess running this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRSS_HUB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def start_run(ws: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """``hrss-hub run`` on ``ws`` as a subprocess (JSON summary on stdout)."""
    return subprocess.Popen([str(HUB), "run", "--config", str(ws / "hub.yaml"), "--quiet",
                             "--json", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=hub_env(**env))


def published(ws: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every entity's current rows, without the per-run lineage columns, sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for entity in ENTITIES:
        table = read_version(ws / "exchange", entity)
        keep = [c for c in table.column_names if c not in RUN_COLUMNS]
        rows = table.select(keep).to_pylist()
        out[entity] = sorted(tuple(str(r[c]) for c in keep) for r in rows)
    return out


def quarantined(ws: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Every quarantined row as (system, stream, location, rules), sorted (duplicates
    kept: a doubled quarantine shows as a repeated tuple)."""
    rows = []
    for path in sorted((ws / "quarantine").glob("*/*/*.parquet")):
        for r in pq.read_table(path, columns=["system", "stream", "location", "rules"]
                               ).to_pylist():
            rows.append((r["system"], r["stream"], r["location"], tuple(r["rules"] or ())))
    return sorted(rows)


def ledger_facts(ws: Path) -> dict[str, Any]:
    """What the ledger says: runs by status, duplicated deliveries, the audit chain."""
    cfg = load_config(ws / "hub.yaml")
    with Ledger.open(cfg.ledger_url) as led:
        runs = led.recent_runs(1000)
        with led.engine.connect() as conn:
            from sqlalchemy import text

            deliveries = [tuple(r) for r in conn.execute(text(
                "SELECT recipient, dataset, version FROM deliveries"))]
            latest = {(r[0], r[1]): r[2] for r in conn.execute(text(
                "SELECT recipient, dataset, rows FROM deliveries ORDER BY id"))}
        return {
            "running": [r.id for r in runs if r.status == "running"],
            "statuses": Counter(r.status for r in runs),
            "duplicate_deliveries": [d for d, n in Counter(deliveries).items() if n > 1],
            "delivered_rows": latest,
            "audit_problems": led.verify_audit(),
            "locks": led.run_locks(),
        }

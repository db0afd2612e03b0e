"""Create the demo world in the shared workspace and load its 社保核心 tables into the
PostgreSQL and MariaDB source servers of docker compose (idempotent).

The demo generator writes the social-insurance core system as SQLite; a real bureau runs
it on a database server. This job copies every table to PostgreSQL (the server the
``si_core`` connector reads, through the Airflow connection ``si_core``) and MariaDB (a
second copy, Airflow connection ``si_core_mariadb``, to try the MySQL dialect), then
points ``connectors/si_core.yaml`` at ``conn_id: si_core``.

    python docker/seed_demo.py WORKSPACE --persons N
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import sqlalchemy as sa

BATCH = 5000


def copy_tables(sqlite_path: Path, target_url: str) -> dict[str, int]:
    """Copy every table of ``sqlite_path`` to ``target_url`` (replacing it); row counts."""
    source = sa.create_engine(f"sqlite:///{sqlite_path}")
    target = sa.create_engine(target_url)
    meta = sa.MetaData()
    meta.reflect(source)
    counts: dict[str, int] = {}
    out = sa.MetaData()
    for table in meta.sorted_tables:
        keys = {c.name for c in table.primary_key.columns}
        columns = [sa.Column(c.name, _portable(c.type, c.name in keys),
                             primary_key=c.name in keys) for c in table.columns]
        sa.Table(table.name, out, *columns)
    out.drop_all(target)
    out.create_all(target)
    with source.connect() as src, target.begin() as dst:
        for table in meta.sorted_tables:
            rows = src.execute(sa.select(table)).mappings()
            dest = out.tables[table.name]
            counts[table.name] = 0
            while chunk := rows.fetchmany(BATCH):
                dst.execute(dest.insert(), [dict(r) for r in chunk])
                counts[table.name] += len(chunk)
    source.dispose()
    target.dispose()
    return counts


def _portable(kind: sa.types.TypeEngine, key: bool) -> sa.types.TypeEngine:
    # SQLite's loose types → types both servers accept (MariaDB cannot index TEXT keys)
    name = type(kind).__name__.upper()
    if "INT" in name:
        return sa.BigInteger()
    if name in ("REAL", "FLOAT", "NUMERIC", "DOUBLE"):
        return sa.Float()
    return sa.String(255) if key else sa.Text()


def point_connector(workspace: Path) -> None:
    """Make ``connectors/si_core.yaml`` read through the Airflow connection ``si_core``."""
    path = workspace / "connectors" / "si_core.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  url: sqlite:///sources/si_core\.db$", "  conn_id: si_core", text)
    path.write_text(text, encoding="utf-8")


def main() -> int:
    """Init the world if missing, load both servers, repoint the connector."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--persons", type=int, default=2000)
    args = parser.parse_args()
    ws: Path = args.workspace
    if not (ws / "hub.yaml").exists():
        from hrss_hub.demo.generator import generate_world

        generate_world(ws, persons=args.persons)
    db = ws / "sources" / "si_core.db"
    for env in ("HRSS_SEED_PG_URL", "HRSS_SEED_MARIADB_URL"):
        counts = copy_tables(db, os.environ[env])
        print(f"{env}: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()), flush=True)
    point_connector(ws)
    return 0


if __name__ == "__main__":
    sys.exit(main())

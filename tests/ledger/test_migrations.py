"""Migrations reach head on every backend and agree with the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from hrss_hub.ledger import Ledger, head_revision
from hrss_hub.ledger.db import VERSION_TABLE, alembic_config
from hrss_hub.ledger.models import Base

TABLES = {
    "runs", "stream_states", "batches", "processed_files", "schema_snapshots",
    "quality_results", "exchange_versions", "deliveries", "audit_events", "audit_head",
    "quarantine_actions", "share_tokens", "run_locks", "findings", "finding_events",
    "master_reviews",
    VERSION_TABLE,
}


@pytest.fixture
def fresh_mysql_database(mysql_url: str) -> Iterator[str]:
    """A new, empty MySQL/MariaDB database, dropped afterwards."""
    name = f"hrss_test_{uuid.uuid4().hex[:16]}"
    server = sa.create_engine(mysql_url)
    try:
        with server.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        yield make_url(mysql_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


def _diffs(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_reaches_head(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as led:
        assert led.current_revision() == head_revision() == "0005"
        assert set(sa.inspect(led.engine).get_table_names()) == TABLES


def test_upgrade_is_idempotent(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as led:
        run = led.start_run("hub", "cli")
    with Ledger.open(ledger_url) as led:
        assert led.migrate() == head_revision()
        assert led.get_run(run) is not None


def test_models_match_migrations(ledger_url: str) -> None:
    Ledger.open(ledger_url).close()
    assert _diffs(ledger_url) == []


def test_models_match_migrations_on_mysql(fresh_mysql_database: str) -> None:
    with Ledger.open(fresh_mysql_database) as led:
        run = led.start_run("hub", "airflow")
        led.commit_state("si", "AC01", {"cursor": "2024-01-01"}, run)
        led.commit_state("si", "AC01", {"cursor": "2024-02-01"}, run)
        assert led.get_state("si", "AC01") == {"cursor": "2024-02-01"}
        led.append_audit("me", "publish", "ds", {"n": 1})
        assert led.verify_audit() == []
    assert _diffs(fresh_mysql_database) == []


def test_downgrade_to_base_and_back(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as led:
        with led.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert led.current_revision() is None
        assert set(sa.inspect(led.engine).get_table_names()) <= {VERSION_TABLE}
        assert led.migrate() == head_revision()


def test_open_without_migrate_requires_head(ledger_url: str) -> None:
    from hrss_hub.errors import LedgerError

    with pytest.raises(LedgerError, match="not up to date") as err:
        Ledger.open(ledger_url, migrate=False)
    assert "hrss-hub ledger upgrade" in str(err.value)
    Ledger.open(ledger_url).close()
    Ledger.open(ledger_url, migrate=False).close()


def test_comparison_would_catch_a_drift(ledger_url: str) -> None:
    """Guard against a vacuous check: a model change without a migration shows up."""
    Ledger.open(ledger_url).close()
    drifted = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["runs"].append_column(sa.Column("extra", sa.Integer))
    engine = sa.create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            diffs = compare_metadata(ctx, drifted)
    finally:
        engine.dispose()
    assert any(d[0] == "add_column" and d[3].name == "extra" for d in diffs)


def test_opening_a_ledger_at_head_takes_no_migration_lock(fresh_pg_database: str) -> None:
    """#16 build 4: every Airflow task opens the ledger; at head that is a read, so tasks
    never queue on the migration lock (held here by another session for the whole test)."""
    import threading

    from hrss_hub.ledger.db import _LOCK_KEY

    Ledger.open(fresh_pg_database).close()
    holder = sa.create_engine(fresh_pg_database)
    opened = threading.Event()
    try:
        with holder.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})

            def open_ledger() -> None:
                Ledger.open(fresh_pg_database).close()
                opened.set()

            worker = threading.Thread(target=open_ledger, daemon=True)
            worker.start()
            # the old code waited on the lock until this transaction ended
            assert opened.wait(timeout=20), "Ledger.open waited for the migration lock"
    finally:
        holder.dispose()


def test_declared_head_is_alembics_head() -> None:
    """The head read from the scripts' revision lines (no Alembic import) is Alembic's."""
    from alembic.script import ScriptDirectory

    from hrss_hub.ledger.db import _declared_head

    assert _declared_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_opening_a_ledger_at_head_imports_no_alembic(tmp_path: Path) -> None:
    """#16 build 4: a task opening a migrated ledger does not pay Alembic's import."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger.open(url).close()
    code = ("import sys; from hrss_hub.ledger import Ledger; Ledger.open(sys.argv[1]).close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"

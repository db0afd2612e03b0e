"""Alembic environment of the ledger, run by :func:`hrss_hub.ledger.db.upgrade`.

It prefers a connection handed over in ``config.attributes["connection"]`` (so the
caller's transaction and locks cover the migration); otherwise it connects to
``sqlalchemy.url`` itself, which is how a developer uses the plain ``alembic`` command
(``alembic -x`` is not needed: set ``sqlalchemy.url`` in a private ini file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from hrss_hub.ledger.db import VERSION_TABLE
from hrss_hub.ledger.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=config.get_main_option("version_table") or VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode recreates tables instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or call hrss_hub.ledger.db.upgrade()")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the ledger migrations run online only")
run_migrations_online()

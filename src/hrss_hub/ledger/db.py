"""Engines, safe URLs and Alembic migrations for the ledger database.

The Alembic environment ships inside the package (``migrations/``), so upgrading works
from an installed wheel with no ``alembic.ini`` anywhere.
"""

from __future__ import annotations

import ast
import functools
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from hrss_hub.errors import LedgerError, redact
from hrss_hub.filelock import exclusive_file_lock

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Alembic's bookkeeping table. Not ``alembic_version``: the ledger may share a PostgreSQL
#: database with Airflow's metadata, which has its own ``alembic_version``.
VERSION_TABLE = "ledger_alembic_version"

# Serializes concurrent ``upgrade`` calls (e.g. parallel Airflow tasks) on one server.
_LOCK_NAME = "hrss_hub_ledger_migrate"
_LOCK_KEY = zlib.crc32(_LOCK_NAME.encode())

CONNECT_HINT = (
    "check ledger_url in hub.yaml (or HRSS_HUB_LEDGER_URL): the server must be running and "
    "reachable, the database must exist and the user must be allowed to connect"
)


def parse_url(url: str) -> URL:
    """Parse a SQLAlchemy URL, raising :class:`LedgerError` (without secrets) if invalid."""
    try:
        return make_url(url)
    except ArgumentError:
        raise LedgerError("ledger_url is not a valid database URL", {"url": redact(url)},
                          "use e.g. sqlite:///path/ledger.db or "
                          "postgresql+psycopg://user@host:5432/db") from None


def safe_url(url: str | URL) -> str:
    """``url`` as text with the password masked, fit for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return redact(str(url))
    return parsed.render_as_string(hide_password=True)


def is_sqlite(url: URL) -> bool:
    """True for any ``sqlite`` URL (file or in-memory)."""
    return url.get_backend_name() == "sqlite"


def is_memory_sqlite(url: URL) -> bool:
    """True for an in-memory SQLite URL, which needs one shared connection."""
    return is_sqlite(url) and url.database in (None, "", ":memory:")


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` (no connection is made yet)."""
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    if is_memory_sqlite(parsed):
        # every new connection would be a new, empty database
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif is_sqlite(parsed):
        # writers wait for each other instead of failing with "database is locked"
        kwargs["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        raise LedgerError(f"cannot use ledger database: {redact(str(exc), _secrets(parsed))}",
                          {"url": safe_url(parsed)},
                          "supported: sqlite, postgresql+psycopg, mysql+pymysql") from None
    if is_sqlite(parsed):
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _secrets(url: URL) -> list[str]:
    return [url.password] if isinstance(url.password, str) else []


def connection_error(url: URL, exc: BaseException) -> LedgerError:
    """A :class:`LedgerError` for a failed connection, naming the URL without its password."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return LedgerError(f"cannot connect to the ledger database: {redact(first, _secrets(url))}",
                       {"url": safe_url(url)}, CONNECT_HINT)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic :class:`Config` pointing at the packaged migrations.

    With ``connection`` the migrations run on it (inside its transaction).
    """
    # Alembic is imported only to migrate (a ledger at head is opened without it: every
    # Airflow task opens the ledger, and the import costs about a second)
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration shipped with this version of hrss-hub (read once per process:
    the migration scripts do not change while it runs)."""
    head = _declared_head()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise LedgerError("no ledger migrations found", {"path": str(MIGRATIONS_DIR)})
    return head


_REVISION_LINE = re.compile(r"^(down_)?revision\s*(?::[^=]+)?=\s*(.+?)\s*$", re.M)


def _declared_head() -> str | None:
    """The one revision no migration names as its ``down_revision``, read from the
    scripts' ``revision = …`` lines without importing Alembic; None when that is not
    clear-cut (then Alembic decides, and reports branches)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        for down, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            try:
                parsed = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
            names = set(parsed) if isinstance(parsed, tuple | list) else {parsed}
            (downs if down else revisions).update(n for n in names if isinstance(n, str))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` for an empty database); a plain read of
    the version table, no Alembic import."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    row = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database to ``revision`` in one transaction; return the new revision.

    A database already at head is only read: no migration lock, no Alembic run (every
    Airflow task opens the ledger, and parallel tasks would queue on the lock).
    """
    if revision == "head":
        with engine.connect() as conn:
            current = current_revision(conn)
        if current == head_revision():
            return current
    with _sqlite_file_lock(engine.url), engine.begin() as conn:
        _migration_lock(conn, acquire=True)
        try:
            if revision != "head" or current_revision(conn) != head_revision():
                from alembic import command

                command.upgrade(alembic_config(conn), revision)
            return current_revision(conn)
        finally:
            _migration_lock(conn, acquire=False)


@contextmanager
def _sqlite_file_lock(url: URL) -> Iterator[None]:
    """Serialize migrations of one SQLite file across processes (two runs starting on a
    fresh workspace): SQLite runs DDL outside the driver's transaction, so the second
    would find half the tables and fail with "table already exists"."""
    if not is_sqlite(url) or is_memory_sqlite(url):
        yield
        return
    lock = Path(str(url.database)).expanduser().with_name(
        Path(str(url.database)).name + ".migrate-lock")
    with exclusive_file_lock(lock):
        yield


def _migration_lock(conn: Connection, *, acquire: bool) -> None:
    name = conn.dialect.name
    if name == "postgresql" and acquire:
        # transaction-scoped: released by the commit/rollback, so nothing to undo
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    elif name in ("mysql", "mariadb"):
        # session-scoped: must be released, or the pooled connection would keep it
        sql = "SELECT GET_LOCK(:n, 300)" if acquire else "SELECT RELEASE_LOCK(:n)"
        conn.execute(text(sql), {"n": _LOCK_NAME})

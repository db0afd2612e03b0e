"""``kind: sql`` — tables or queries of any SQLAlchemy database, read incrementally.

Incremental reads follow :mod:`hrss_hub.connectors.incremental` (the hub's one
implementation of an inclusive cursor with primary-key de-duplication at the boundary).
State::

    {"cursor": <largest cursor value read, JSON form>,
     "boundary_keys": ["<key>", ...]}   # keys.encode of the rows having exactly that value

The next read selects ``cursor >= state.cursor`` and drops the rows at that exact value
whose key is a boundary key. So rows sharing a timestamp across a batch or run boundary
are neither lost nor duplicated, and a row updated later (new cursor value, same key) is
read again. Rows are ordered by (cursor, primary key), so every chunk's state is a valid
resume point; an incremental stream therefore needs a ``primary_key``.

Out of scope of a pure cursor: a row committed late with a cursor value *older* than one
already read (long transactions); such a source needs a full reload or a CDC feed.
Rows whose cursor is NULL are read only by the initial (state-less) load; they are sorted
first (explicitly on PostgreSQL, whose ascending order puts NULLs last), so a crash of the
initial load re-reads them rather than skipping them.
Streams without a cursor are full loads: every read returns every row, and ``split``
reads key ranges in parallel threads.

Rows are fetched by one of the backends of :mod:`hrss_hub.connectors.sql_fetch`
(``connection.fast_path``).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from hrss_hub.connectors.base import (
    LOCATION_COLUMN,
    Chunk,
    ConnectorKind,
    State,
    StreamConfig,
    SystemConfig,
)
from hrss_hub.connectors.credentials import resolve_sql_url
from hrss_hub.connectors.incremental import Incremental, Watermark
from hrss_hub.connectors.options import SqlConnection, SqlStream
from hrss_hub.connectors.registry import register_kind
from hrss_hub.connectors.sql_fetch import (
    FetchBackend,
    QuerySpec,
    choose_backend,
)
from hrss_hub.connectors.sql_types import (
    arrow_type,
    parse_type_name,
    sql_type,
)
from hrss_hub.errors import (
    ConfigError,
    FatalSourceError,
    HubError,
    RetriableSourceError,
    SourceError,
    redact,
    unknown_choice,
)
from hrss_hub.threads import parallel

_log = logging.getLogger(__name__)

#: dialects whose ascending ORDER BY puts NULLs last (they are asked for NULLS FIRST)
_NULLS_LAST_DIALECTS = frozenset({"postgresql", "oracle"})


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sa.exc.SQLAlchemyError, OSError]
    try:
        import adbc_driver_manager

        errors.append(adbc_driver_manager.Error)
    except ImportError:  # pragma: no cover - ADBC is a dependency
        pass
    return tuple(errors)


@register_kind
class SqlConnector(ConnectorKind):
    """Reads tables/queries through ADBC (SQLite, PostgreSQL) or SQLAlchemy (anything)."""

    kind: ClassVar[str] = "sql"
    # the file's options, checked when it is loaded (also at DAG-parse time)
    connection_model: ClassVar[type[SqlConnection]] = SqlConnection
    stream_model: ClassVar[type[SqlStream]] = SqlStream

    def __init__(self, config: SystemConfig) -> None:
        super().__init__(config)
        self._engine: sa.Engine | None = None
        self._url: sa.URL | None = None
        self._secrets: tuple[str, ...] = ()
        self._schemas: dict[str, pa.Schema] = {}
        self._sql_types: dict[str, dict[str, sa.types.TypeEngine[Any]]] = {}
        self._backend: FetchBackend | None = None

    def _ctx(self, stream: str | None = None) -> dict[str, Any]:
        return {"system": self.config.system, "stream": stream}

    def _source_error(self, exc: BaseException, stream: str | None, what: str) -> SourceError:
        """Wrap a driver error: message redacted (URL passwords and known secrets)."""
        detail = redact(f"{type(exc).__name__}: {exc}".splitlines()[0], self._secrets)
        cls: type[SourceError] = RetriableSourceError
        if isinstance(exc, sa.exc.ProgrammingError | sa.exc.NoSuchTableError | KeyError) or (
                "no such table" in detail or "no such column" in detail):  # SQLite's wording
            cls = FatalSourceError
        return cls(f"{what}: {detail}", self._ctx(stream),
                   "check the database is reachable and the connection settings "
                   "(url_env / conn_id) are right")

    @property
    def url(self) -> sa.URL:
        """The resolved SQLAlchemy URL (secrets resolved from env/Airflow)."""
        if self._url is None:
            resolved = resolve_sql_url(self.config.connection, system=self.config.system,
                                       file=str(self.config.source_file))
            self._secrets = resolved.secrets
            try:
                self._url = sa.make_url(resolved.value)
            except sa.exc.ArgumentError:
                raise ConfigError("connection URL is not a valid SQLAlchemy URL",
                                  self._ctx(), "e.g. postgresql+psycopg://user@host/db"
                                  ) from None
        return self._url

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (created on first use, never at import or construction)."""
        if self._engine is None:
            self._engine = sa.create_engine(self.url)
        return self._engine

    def fast_path(self) -> str:
        """The name of the fetch backend ``read`` uses for this database (``adbc``, …)."""
        return self.backend.name

    @property
    def backend(self) -> FetchBackend:
        """The fetch backend ``connection.fast_path`` selects for this database."""
        if self._backend is None:
            choice = str(self.config.connection.get("fast_path", "auto"))
            cls = choose_backend(choice, self.url, **self._ctx(),
                                 file=str(self.config.source_file))
            self._backend = cls(self.url, lambda: self.engine)
        return self._backend

    # ---------------------------------------------------------------- contract
    def check(self) -> None:
        """Connect and make sure every stream's table/query is readable."""
        self.discover()

    def schema(self, stream: str) -> pa.Schema:
        """The Arrow schema of ``stream``'s batches, including ``_location``."""
        if stream not in self._schemas:
            sc = self.config.stream(stream)
            types = self._reflect(sc)
            fields = [pa.field(n, arrow_type(t)) for n, t in types.items()]
            declared = sc.options.get("schema") or {}
            fields = [pa.field(f.name, parse_type_name(str(declared[f.name])))
                      if f.name in declared else f for f in fields]
            self._check_columns(sc, [f.name for f in fields])
            self._schemas[stream] = pa.schema([*fields, pa.field(LOCATION_COLUMN, pa.string())])
        return self._schemas[stream]

    def declared_columns(self, stream: str) -> list[str] | None:
        """``columns:`` plus primary key and cursor, when the stream selects columns."""
        sc = self.config.stream(stream)
        wanted = sc.options.get("columns")
        if not wanted:
            return None
        return list(dict.fromkeys([*map(str, wanted), *sc.primary_key,
                                   *([sc.cursor] if sc.cursor else [])]))

    def _check_columns(self, sc: StreamConfig, names: list[str]) -> None:
        needed = [*sc.primary_key, *([sc.cursor] if sc.cursor else [])]
        split = sc.options.get("split")
        if split:
            needed.append(str(split["column"]))
        for col in needed:
            if col not in names:
                raise unknown_choice("column", col, names, system=self.config.system,
                                     stream=sc.name, file=str(self.config.source_file))

    def _reflect(self, sc: StreamConfig) -> dict[str, sa.types.TypeEngine[Any]]:
        """Column name → SQL type, in select order (reflection, or the query's columns)."""
        if sc.name in self._sql_types:
            return self._sql_types[sc.name]
        db_schema = self.config.connection.get("db_schema")
        try:
            if "table" in sc.options:
                cols = sa.inspect(self.engine).get_columns(str(sc.options["table"]),
                                                           schema=db_schema)
                types = {str(c["name"]): c["type"] for c in cols}
            else:
                types = self._query_columns(sc)
        except sa.exc.NoSuchTableError as exc:
            tables = self._table_names(db_schema)
            raise unknown_choice("table", str(exc), tables, **self._ctx(sc.name)) from None
        except HubError:
            raise
        except _driver_errors() as exc:
            raise self._source_error(exc, sc.name, "cannot read the table definition") from None
        wanted = sc.options.get("columns")
        if wanted:
            for col in wanted:
                if col not in types:
                    raise unknown_choice("column", str(col), types, **self._ctx(sc.name),
                                         file=str(self.config.source_file))
            keep = list(dict.fromkeys([*wanted, *sc.primary_key,
                                       *([sc.cursor] if sc.cursor else [])]))
            types = {c: types[c] for c in keep}
        self._sql_types[sc.name] = types
        return types

    def _table_names(self, db_schema: str | None) -> list[str]:
        try:
            return sa.inspect(self.engine).get_table_names(schema=db_schema)
        except _driver_errors():
            return []

    def _query_columns(self, sc: StreamConfig) -> dict[str, sa.types.TypeEngine[Any]]:
        declared = {str(k): parse_type_name(str(v))
                    for k, v in (sc.options.get("schema") or {}).items()}
        sub = sa.text(str(sc.options["query"])).columns().subquery("q")
        with self.engine.connect() as conn:
            names = list(conn.execute(sa.select(sa.text("*")).select_from(sub).limit(0)).keys())
        # undeclared query columns are read as strings: their SQL type is unknown
        return {n: sql_type(declared[n]) if n in declared else sa.String() for n in names}

    def _source(self, sc: StreamConfig) -> sa.FromClause:
        types = self._reflect(sc)
        cols = [sa.column(n, t) for n, t in types.items()]
        if "table" in sc.options:
            return sa.table(str(sc.options["table"]), *cols,
                            schema=self.config.connection.get("db_schema"))
        return sa.text(str(sc.options["query"])).columns(*cols).subquery("q")

    # -------------------------------------------------------------------- read
    def read(self, stream: str, state: State | None = None) -> Iterator[Chunk]:
        """Yield chunks of rows newer than ``state`` (all rows for a full load)."""
        sc = self.config.stream(stream)
        schema = self.schema(stream)
        data_schema = schema.remove(schema.get_field_index(LOCATION_COLUMN))
        source = self._source(sc)
        cursor = sc.cursor
        inc, since, where = self._filter(sc, source, data_schema, state)
        order = [*([cursor] if cursor else []), *[k for k in sc.primary_key if k != cursor]]
        spec = QuerySpec(source, data_schema, where, order,
                         nulls_first=self.url.get_backend_name() in _NULLS_LAST_DIALECTS)
        batches = self._batches(sc, spec)
        mark = since
        rows_seen = 0
        try:
            for batch in batches:
                out_state: State = {}
                if inc is not None:
                    assert cursor is not None
                    if since.cursor is not None:
                        # only rows at the starting bound can have been delivered already
                        new = inc.new_rows(batch, since)
                        if not new.all_new:
                            batch = batch.filter(new.mask)
                        if batch.num_rows == 0:
                            continue
                    self._check_order(batch, cursor, inc.value(mark), stream)
                    mark = inc.advance(mark, batch)
                    out_state = mark.to_state()
                located = self._with_location(batch, sc, rows_seen, schema)
                rows_seen += batch.num_rows
                yield Chunk(located, out_state)
        except HubError:
            raise
        except _driver_errors() as exc:
            raise self._source_error(exc, stream, "reading failed") from None
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def _filter(self, sc: StreamConfig, source: sa.FromClause, data_schema: pa.Schema,
                state: State | None) -> tuple[Incremental | None, Watermark,
                                              list[sa.ColumnElement[bool]]]:
        """The incremental cursor, the stored watermark and the WHERE terms of a read."""
        cursor = sc.cursor
        inc = (Incremental(cursor, sc.primary_key, data_schema.field(cursor).type)
               if cursor else None)
        try:
            since = Watermark.from_state(state) if inc else Watermark()
            bound = inc.value(since) if inc else None
        except ValueError as exc:
            raise FatalSourceError(f"the stored state is not a sql-connector state: {exc}",
                                   self._ctx(sc.name), "reset the stream's state to re-read it"
                                   ) from None
        where: list[sa.ColumnElement[bool]] = []
        if cursor and bound is not None:
            where.append(self._lower_bound(source.c[cursor], bound))
        return inc, since, where

    # ---------------------------------------------------------------- estimate
    def estimate_rows(self, stream: str, state: State | None = None) -> int | None:
        """About how many rows ``read(stream, state)`` yields (``connection.estimate``).

        ``auto``/``count``: ``SELECT COUNT(*)`` with the read's own cursor filter, under a
        server-side timeout (``estimate_timeout`` seconds: PostgreSQL ``statement_timeout``,
        MySQL ``MAX_EXECUTION_TIME``, MariaDB ``max_statement_time``, SQLite a progress
        handler); other dialects are not counted. ``auto`` falls back to the table's
        statistics when the count fails or times out and the read has no cursor filter
        (statistics count the whole table). ``None``: unknown.
        """
        mode = str(self.config.connection.get("estimate", "auto"))
        if mode == "off":
            return None
        sc = self.config.stream(stream)
        schema = self.schema(stream)
        source = self._source(sc)
        _, since, where = self._filter(
            sc, source, schema.remove(schema.get_field_index(LOCATION_COLUMN)), state)
        if mode != "statistics":
            timeout = float(self.config.connection.get("estimate_timeout", 2.0))
            stmt = sa.select(sa.func.count()).select_from(source).where(*where)
            try:
                counted = self._timed_count(stmt, timeout)
            except _driver_errors() as exc:
                _log.info("%s/%s: row count for progress failed or timed out (%s)",
                          self.config.system, stream, type(exc).__name__)
                counted = None
            if counted is not None:
                # rows at the watermark already delivered are filtered out by the read
                return max(counted - len(since.keys), 0)
            if mode == "count":
                return None
        if where or "table" not in sc.options:
            return None
        return self._table_statistics(str(sc.options["table"]))

    def _timed_count(self, stmt: sa.Select[Any], timeout: float) -> int | None:
        """``stmt``'s single number, cancelled by the server after ``timeout`` seconds."""
        dialect = self.url.get_backend_name()
        with self.engine.connect() as conn:
            if dialect == "postgresql":
                ms = max(1, int(timeout * 1000))
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
                return int(conn.execute(stmt).scalar_one())
            if dialect == "mysql":
                if getattr(conn.dialect, "is_mariadb", False):
                    return self._mariadb_count(conn, stmt, timeout)
                ms = max(1, int(timeout * 1000))
                hinted = stmt.prefix_with(f"/*+ MAX_EXECUTION_TIME({ms}) */")
                return int(conn.execute(hinted).scalar_one())
            if dialect == "sqlite":
                return _sqlite_count(conn, stmt, timeout)
        return None

    @staticmethod
    def _mariadb_count(conn: sa.Connection, stmt: sa.Select[Any], timeout: float) -> int:
        previous = conn.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar_one()
        conn.exec_driver_sql(f"SET SESSION max_statement_time = {timeout:.3f}")
        try:
            return int(conn.execute(stmt).scalar_one())
        finally:  # the pooled connection goes back as it came
            conn.exec_driver_sql(f"SET SESSION max_statement_time = {float(previous):.3f}")

    def _table_statistics(self, table: str) -> int | None:
        """The table's row count as the database's statistics have it (approximate)."""
        dialect = self.url.get_backend_name()
        db_schema = self.config.connection.get("db_schema")
        if dialect == "postgresql":
            stmt = sa.text("SELECT c.reltuples FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE c.relname = :table "
                           "AND n.nspname = COALESCE(:schema, current_schema())"
                           ).bindparams(schema=db_schema, table=table)
        elif dialect == "mysql":
            stmt = sa.text("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                           "TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table"
                           ).bindparams(schema=db_schema, table=table)
        else:
            return None
        try:
            with self.engine.connect() as conn:
                value = conn.execute(stmt).scalar()
        except _driver_errors():
            return None
        # PostgreSQL says -1 for a table never vacuumed or analyzed: unknown
        return int(value) if value is not None and float(value) >= 0 else None

    def _lower_bound(self, column: sa.ColumnElement[Any], bound: Any) -> sa.ColumnElement[bool]:
        """``column >= bound`` in SQL; the exact comparison is the incremental filter's.

        SQLite keeps datetimes as text in whatever form the writing program chose
        (``2024-05-01 09:00:00``, ``2024-05-01T09:00:00``, with or without fractions), and
        compares text. Bound as SQLAlchemy would (``2024-05-01 09:00:00.000000``) a row
        written at that very second without fractions would compare *less* and be lost, and
        every ``T``-separated row of that day would compare greater. So on SQLite the bound
        is the whole second in both spellings, and ``Incremental.new_rows`` drops the rows
        the SQL let through that are older than the watermark.
        """
        if self.url.get_backend_name() == "sqlite" and isinstance(bound, dt.datetime):
            day, second = bound.strftime("%Y-%m-%d"), bound.strftime("%H:%M:%S")

            def text(name: str, value: str) -> sa.BindParameter[str]:
                return sa.bindparam(name, value, type_=sa.String())

            spaced = column >= text("cursor_lo", f"{day} {second}")
            t_before = sa.and_(column >= text("cursor_t_day", f"{day}T"),
                               column < text("cursor_t_lo", f"{day}T{second}"))
            return sa.and_(spaced, sa.not_(t_before))
        return column >= sa.bindparam("cursor_lo", bound, type_=column.type)

    def _batches(self, sc: StreamConfig, spec: QuerySpec) -> Iterator[pa.RecordBatch]:
        size = self.config.batch_size
        split = sc.options.get("split")
        if split and not sc.cursor and int(split["parts"]) > 1:
            specs = self._split_specs(spec, str(split["column"]), int(split["parts"]))
            return parallel([functools.partial(self._fetch, s, size) for s in specs])
        return self._fetch(spec, size)

    def _fetch(self, spec: QuerySpec, size: int) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.backend.fetch(spec, size)
        except HubError:
            raise
        except _driver_errors() as exc:
            raise self._source_error(exc, None, "reading failed") from None

    def _split_specs(self, spec: QuerySpec, column: str, parts: int) -> list[QuerySpec]:
        col = spec.source.c[column]
        with self.engine.connect() as conn:
            lo, hi = conn.execute(sa.select(sa.func.min(col), sa.func.max(col))).one()
        if lo is None:
            return [spec]
        lo, hi = int(lo), int(hi)
        step = max(1, (hi - lo + parts) // parts)
        bounds = [*list(range(lo, hi + 1, step)), hi + 1]
        specs = []
        for i, (a, b) in enumerate(itertools.pairwise(bounds)):
            cond: sa.ColumnElement[bool] = sa.and_(col >= a, col < b)
            if i == 0:  # rows with a NULL split key must not be lost
                cond = sa.or_(cond, col.is_(None))
            specs.append(QuerySpec(spec.source, spec.schema, [*spec.where, cond],
                                   spec.order_by, spec.nulls_first))
        return specs

    # ------------------------------------------------------------------ helpers
    def _check_order(self, batch: pa.RecordBatch, cursor: str, last: Any,
                     stream: str) -> None:
        """States are resume points only if rows arrive in cursor order: verify it (cheap,
        vectorized) rather than trust every driver and query plan."""
        values = batch.column(cursor)
        ordered = pc.all(pc.fill_null(pc.greater_equal(values.slice(1), values.slice(
            0, max(batch.num_rows - 1, 0))), True)).as_py() is not False
        first = values[0].as_py() if batch.num_rows else None
        if not ordered or (last is not None and first is not None and first < last):
            raise FatalSourceError("the source returned rows out of cursor order",
                                   self._ctx(stream), "report this: the read would not be "
                                   "resumable; set fast_path: off as a workaround")

    @staticmethod
    def _with_location(batch: pa.RecordBatch, sc: StreamConfig, offset: int,
                       schema: pa.Schema) -> pa.RecordBatch:
        if sc.primary_key:
            pieces: list[Any] = [f"{sc.name}["]
            for i, key in enumerate(sc.primary_key):
                pieces.append(("," if i else "") + f"{key}=")
                pieces.append(pc.fill_null(batch.column(key).cast(pa.string()), "null"))
            pieces.append("]")
            location = pc.binary_join_element_wise(*pieces, "")
        else:
            ordinal = pa.array(range(offset + 1, offset + batch.num_rows + 1)).cast(pa.string())
            location = pc.binary_join_element_wise(f"{sc.name}#", ordinal, "")
        return pa.RecordBatch.from_arrays([*batch.columns, location], schema=schema)


def _sqlite_count(conn: sa.Connection, stmt: sa.Select[Any], timeout: float) -> int | None:
    """``stmt``'s number on SQLite, interrupted (``OperationalError``) after ``timeout``."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):  # e.g. another SQLite driver: no handler
        return None
    deadline = time.monotonic() + timeout
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        return int(conn.execute(stmt).scalar_one())
    finally:
        raw.set_progress_handler(None, 0)

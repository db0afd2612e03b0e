"""The options of connector files, per kind: the keys of ``connection:`` and of each stream.

Every kind declares two pydantic models: its connection options and its stream model (the
common stream keys of :class:`StreamBase` plus the kind's own). :mod:`hrss_hub.connectors.
config` validates a connector file against the models of its ``kind``, so every problem of
the file — common or kind-specific — is reported at once with its line and YAML path.

This module imports no pyarrow, SQLAlchemy or connector class: the Airflow DAG parser
validates connector files with exactly these models. Connector classes read their options
typed with ``<Model>.model_validate(stream.options)`` (the options were validated when the
file was loaded, so this cannot fail).

REST pagination styles are small models looked up by their ``type`` (:func:`options_model`,
:func:`styles`); a paginator class owns its model, so a new style is one paginator class
with its options model.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hrss_hub.config.model import (
    Columns,
    FileModel,
    Name,
    NonNegativeInt,
    PositiveInt,
    Text,
    fail,
    fail_at,
)
from hrss_hub.config.thresholds import Threshold
from hrss_hub.connectors.paginators import PaginationOptions, options_model, styles
from hrss_hub.mapping.spec import MappingModel

# ---------------------------------------------------------------------------------------
# what every stream has
# ---------------------------------------------------------------------------------------

#: schema drift policies of a stream
DRIFT_POLICIES = ("fail", "evolve", "ignore")


class StreamBase(FileModel):
    """The keys every stream has, whatever its kind."""

    name: Name
    primary_key: Columns = ()
    cursor: Name | None = None
    #: the source's own update time of a record (decides which record of an entity key
    #: wins, after source precedence); default: the stream's cursor column
    updated_at: Name | None = None
    drift: Literal["fail", "evolve", "ignore"] = Field(default="fail", title="drift policy")
    threshold: Threshold = Threshold()
    mapping: MappingModel | None = None

    #: the common keys (the rest of a stream's keys are its kind's options)
    COMMON: ClassVar[frozenset[str]] = frozenset(
        {"name", "primary_key", "cursor", "updated_at", "drift", "threshold", "mapping"})

    def kind_options(self) -> dict[str, Any]:
        """The kind-specific keys that were written, as validated (``StreamConfig.options``:
        JSON-like values; ``<Kind>StreamOptions.model_validate`` gives them typed)."""
        dumped = self.model_dump(mode="json", exclude_unset=True, by_alias=True)
        return {k: v for k, v in dumped.items() if k not in self.COMMON}


class OptionsModel(FileModel):
    """Base of kind-specific option models (connection and stream options)."""


# ---------------------------------------------------------------------------------------
# declared column types (sql and files ``schema:``)
# ---------------------------------------------------------------------------------------

#: type names a sql/files stream may declare under ``schema:`` (plus ``decimal128(p,s)``)
SCHEMA_TYPES = ("int64", "int32", "float64", "double", "string", "date32", "date", "bool",
                "boolean", "timestamp", "timestamp[us]", "timestamp[us, tz=UTC]", "binary")
_DECIMAL = re.compile(r"^decimal128\((\d+),(\d+)\)$")
_MAX_DECIMAL_PRECISION = 38


def schema_type(name: str) -> str:
    """The canonical form of a declared type name (``ValueError`` for an unknown one)."""
    text = str(name).strip().replace(" ", "")
    canonical = {t.replace(" ", ""): t for t in SCHEMA_TYPES}
    if text in canonical:
        return canonical[text]
    m = _DECIMAL.match(text)
    if m and 1 <= int(m.group(1)) <= _MAX_DECIMAL_PRECISION and int(m.group(2)) <= int(
            m.group(1)):
        return f"decimal128({m.group(1)},{m.group(2)})"
    raise ValueError(f"unknown type {name!r}; valid: {', '.join(sorted(SCHEMA_TYPES))}, "
                     "decimal128(p,s)")


def _known_type(value: str) -> str:
    try:
        return schema_type(value)
    except ValueError as exc:
        raise fail(str(exc)) from None


#: ``schema: {column: type, …}`` of a sql or files stream
DeclaredSchema = dict[str, Annotated[str, AfterValidator(_known_type)]]


# ---------------------------------------------------------------------------------------
# kind: sql
# ---------------------------------------------------------------------------------------

#: how a sql stream is fetched: ADBC when the driver allows (auto), always, or never
#: (``off``, also spelt ``sqlalchemy``)
FAST_PATHS = ("auto", "adbc", "connectorx", "off", "sqlalchemy")


def _url_without_password(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    if url is None:
        return None
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        raise fail("connection.url contains a password",
                   "use url_env (name of an env var holding the URL) or conn_id "
                   "(an Airflow connection); secrets never go in the YAML")
    return url


def _yaml_off(value: Any) -> Any:
    # YAML 1.1 reads a bare ``off`` as false: ``fast_path: off`` means the word
    return "off" if value is False else value


class SqlConnection(OptionsModel):
    """``connection:`` of ``kind: sql``."""

    url: Name | None = None
    url_env: Name | None = None
    conn_id: Name | None = None
    fast_path: Annotated[Literal["auto", "adbc", "connectorx", "off", "sqlalchemy"],
                         BeforeValidator(_yaml_off)] = Field(default="auto", title="fast_path")
    db_schema: Name | None = None
    #: how progress displays learn a stream's row count: ``auto`` (a COUNT(*) with the
    #: read's cursor filter, table statistics when it times out), ``count``,
    #: ``statistics`` (PostgreSQL reltuples, MySQL/MariaDB information_schema) or ``off``
    estimate: Annotated[Literal["auto", "count", "statistics", "off"],
                        BeforeValidator(_yaml_off)] = Field(default="auto", title="estimate")
    #: seconds the estimate's COUNT(*) may take before it is given up
    estimate_timeout: Annotated[float, Field(gt=0, le=60)] = 2.0

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        return _url_without_password(value)

    @model_validator(mode="after")
    def _one_source(self) -> SqlConnection:
        given = [k for k in ("url", "url_env", "conn_id") if getattr(self, k)]
        if not given:
            raise fail("connection needs one of url, url_env or conn_id",
                       "use url_env (an env var holding the URL) or conn_id (Airflow)")
        if len(given) > 1:
            raise fail(f"connection has {' and '.join(given)}: give only one")
        return self


class Split(FileModel):
    """Key-range splitting of a sql stream for parallel reads."""

    column: Name
    parts: PositiveInt


class SqlStreamOptions(OptionsModel):
    """The stream keys of ``kind: sql``."""

    table: Name | None = None
    query: Name | None = None
    columns: Columns | None = None
    split: Split | None = None
    schema_: Annotated[DeclaredSchema | None, Field(alias="schema")] = None

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlStreamOptions:
        if (self.table is None) == (self.query is None):
            raise fail("a sql stream needs exactly one of table or query",
                       "table: AC01  or  query: SELECT ...")
        return self


class SqlStream(StreamBase, SqlStreamOptions):
    """A stream of ``kind: sql``: an incremental one needs a primary key."""

    @model_validator(mode="after")
    def _cursor_needs_key(self) -> SqlStream:
        # rows at the cursor's last value are told apart by their key (inclusive cursor)
        if self.cursor and not self.primary_key:
            raise fail_at((("cursor",), "an incremental stream (cursor) needs a primary_key: "
                           "rows at the cursor's last value are told apart by their key",
                           f"add primary_key: [<unique column>] next to cursor: {self.cursor}"))
        return self


# ---------------------------------------------------------------------------------------
# kind: files
# ---------------------------------------------------------------------------------------

#: file formats of a drop folder
FILE_FORMATS = ("csv", "xlsx")


def format_of(pattern: str) -> str:
    """The format a file pattern implies (``*.xlsx``/``*.xlsm`` → xlsx, else csv)."""
    return "xlsx" if pattern.lower().endswith((".xlsx", ".xlsm")) else "csv"


class FilesConnection(OptionsModel):
    """``connection:`` of ``kind: files``."""

    path: Name | None = Field(default=None, validate_default=True)

    @field_validator("path")
    @classmethod
    def _required(cls, value: str | None) -> str | None:
        if value is None:
            raise fail("connection.path (the drop folder) is required",
                       "e.g. connection: {path: sources/contracts}")
        return value


def _one_char(value: str, info: ValidationInfo) -> str:
    if len(value) != 1:
        raise fail(f"{info.field_name} must be one character, got {value!r}")
    return value


class FilesStreamOptions(OptionsModel):
    """The stream keys of ``kind: files``."""

    pattern: Name = "*.csv"
    format: Literal["csv", "xlsx"] | None = Field(default=None, title="format")
    encoding: Name = "auto"
    delimiter: str = ","
    quotechar: str = '"'
    sheet: Name | None = None
    header_row: PositiveInt = 1
    schema_: Annotated[DeclaredSchema | None, Field(alias="schema")] = None

    _chars = field_validator("delimiter", "quotechar")(_one_char)

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise fail(f"unknown encoding {value!r}",
                           "use auto (BOM → strict UTF-8 → GB18030), utf-8 or gb18030"
                           ) from None
        return value

    @model_validator(mode="after")
    def _supported_format(self) -> FilesStreamOptions:
        if self.format is None and self.pattern.lower().endswith(".xls"):
            raise fail("old Excel files (.xls) are not supported",
                       "save them as .xlsx (or CSV) and match those with pattern")
        return self

    @property
    def file_format(self) -> str:
        """``format``, or the one the pattern implies."""
        return self.format or format_of(self.pattern)


class FilesStream(StreamBase, FilesStreamOptions):
    """A stream of ``kind: files``."""


# ---------------------------------------------------------------------------------------
# kind: rest
# ---------------------------------------------------------------------------------------

class Auth(FileModel):
    """``connection.auth``: how requests authenticate (secrets by env var name only)."""

    type: Literal["none", "bearer", "basic", "api_key"] = Field(default="none", title="auth")
    token_env: Name | None = None
    username_env: Name | None = None
    password_env: Name | None = None
    header: Name | None = None
    param: Name | None = None
    key_env: Name | None = None

    _KEYS: ClassVar[dict[str, frozenset[str]]] = {
        "none": frozenset(),
        "bearer": frozenset({"token_env"}),
        "basic": frozenset({"username_env", "password_env"}),
        "api_key": frozenset({"header", "param", "key_env"}),
    }
    _NEEDED: ClassVar[dict[str, tuple[str, ...]]] = {
        "bearer": ("token_env",), "basic": ("username_env", "password_env"),
        "api_key": ("key_env",)}

    @model_validator(mode="after")
    def _keys_of_type(self) -> Auth:
        allowed = self._KEYS[self.type]
        extra = sorted(k for k in self.model_fields_set - {"type"} if k not in allowed)
        if extra:
            raise fail(f"auth type {self.type} does not use {', '.join(extra)}",
                       "valid: " + ", ".join(sorted(allowed | {"type"})))
        if self.type == "api_key" and (self.header is None) == (self.param is None):
            raise fail("auth type api_key needs exactly one of header or param",
                       "e.g. {type: api_key, header: X-API-Key, key_env: MY_KEY}")
        return self

    def missing_secrets(self) -> list[str]:
        """Keys naming a secret's env var that this auth type needs but lacks."""
        return [k for k in self._NEEDED.get(self.type, ()) if getattr(self, k) is None]


PositiveNumber = Annotated[float, Field(gt=0)]
NonNegativeNumber = Annotated[float, Field(ge=0)]


class RestConnection(OptionsModel):
    """``connection:`` of ``kind: rest``."""

    base_url: Name | None = None
    base_url_env: Name | None = None
    conn_id: Name | None = None
    auth: Auth = Field(default_factory=Auth)
    timeout_seconds: PositiveNumber = 10.0
    max_retries: NonNegativeInt = 5
    backoff_seconds: NonNegativeNumber = 0.5
    max_backoff_seconds: PositiveNumber = 30.0
    max_requests_per_second: PositiveNumber | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    verify: bool | str = True

    @model_validator(mode="after")
    def _has_base_url_and_secrets(self) -> RestConnection:
        if not (self.base_url or self.base_url_env or self.conn_id):
            raise fail("connection needs base_url, base_url_env or conn_id",
                       "e.g. base_url: http://127.0.0.1:8765/api")
        if not self.conn_id:  # an Airflow connection may hold the secret instead
            missing = self.auth.missing_secrets()
            if missing:
                raise fail_at(*[(("auth", key), f"auth type {self.auth.type} needs {key} (the "
                                 "name of an environment variable holding the secret)",
                                 "or set connection.conn_id to use an Airflow connection")
                                for key in missing])
        return self


# -- pagination styles -----------------------------------------------------------------
# One options model per style, owned by its paginator class (hrss_hub.connectors.paginators,
# pyarrow-free); a stream's ``pagination:`` is validated by its style's model.


def _pagination(value: Any) -> Any:
    # the style's own model validates the rest; errors keep their paths (pagination.size)
    if value is None or isinstance(value, PaginationOptions):
        return value
    if not isinstance(value, dict):
        raise fail("pagination must be a mapping with a type", "types: " + ", ".join(styles()))
    style = value.get("type")
    if style is None:
        raise fail("pagination needs a type", "types: " + ", ".join(styles()))
    try:
        model = options_model(str(style))
    except KeyError:
        from hrss_hub.config.problems import did_you_mean

        raise fail(f"unknown pagination type {style!r}",
                   did_you_mean(str(style), styles())) from None
    return model.model_validate(value)


Pagination = Annotated[SerializeAsAny[PaginationOptions], BeforeValidator(_pagination)]

#: field types a REST stream may declare (JSON values → Arrow types)
REST_FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp")


class RestField(FileModel):
    """One declared field of a REST stream: ``id: string`` or ``{type: integer, required}``."""

    type: Literal["string", "integer", "number", "boolean", "date", "timestamp"] = Field(
        title="field type")
    required: bool = False


def _rest_fields(value: Any) -> Any:
    if value is None:
        return {}  # ``schema:`` with nothing under it: reported as required
    if isinstance(value, dict):
        return {str(k): {"type": v} if not isinstance(v, dict) else v for k, v in value.items()}
    return value


class Incremental(FileModel):
    """``incremental:`` of a REST stream: the query parameter taking the watermark."""

    param: Name | None = None
    cursor_field: Name | None = None


class RestStreamOptions(OptionsModel):
    """The stream keys of ``kind: rest``."""

    path: Name | None = Field(default=None, validate_default=True)
    # query parameters are text: ``status: true`` is sent as ``true``, ``size: 5`` as ``5``
    params: dict[str, Text] = Field(default_factory=dict)
    records_path: str = ""
    pagination: Pagination | None = None
    incremental: Incremental | None = None
    schema_: Annotated[dict[str, RestField], BeforeValidator(_rest_fields),
                       Field(alias="schema", validate_default=True)] = Field(
        default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path_required(cls, value: str | None) -> str | None:
        if value is None:
            raise fail("path is required (the endpoint, e.g. /jobseekers)")
        return value

    @field_validator("schema_")
    @classmethod
    def _schema_required(cls, value: dict[str, RestField]) -> dict[str, RestField]:
        if not value:
            raise fail("schema is required: the type of each field "
                       f"({' | '.join(REST_FIELD_TYPES)})",
                       "e.g. schema: {id: string, updatedAt: timestamp}")
        return value


class RestStream(StreamBase, RestStreamOptions):
    """A stream of ``kind: rest``: primary key and cursor must be declared fields."""

    @model_validator(mode="after")
    def _keys_declared(self) -> RestStream:
        names = set(self.schema_)
        if not names:
            return self  # reported by the schema check
        errors: list[tuple[tuple[str | int, ...], str, str | None]] = [
            (("primary_key",), f"primary key {key!r} is not declared in schema",
             "declare it under schema:") for key in self.primary_key if key not in names]
        cursor = self.cursor
        where: tuple[str | int, ...] = ("cursor",)
        if self.incremental is not None:
            field_name = self.incremental.cursor_field or self.cursor
            where = ("incremental", "cursor_field")
            if self.cursor and field_name != self.cursor:
                errors.append((("cursor",), f"cursor ({self.cursor}) and incremental."
                               f"cursor_field ({field_name}) differ", None))
            elif not field_name:
                errors.append((where, "incremental needs cursor_field (or the stream's "
                               "cursor)", None))
            cursor = field_name
        if cursor and cursor not in names and not errors:
            errors.append((where, f"cursor field {cursor!r} is not declared in schema",
                           "declare it under schema:"))
        if errors:
            raise fail_at(*errors)
        return self

    def cursor_field(self) -> str | None:
        """The field whose value is the watermark (``cursor`` or incremental.cursor_field)."""
        if self.incremental is not None and self.incremental.cursor_field:
            return self.incremental.cursor_field
        return self.cursor


# ---------------------------------------------------------------------------------------
# the registry of built-in kinds (no connector class imported)
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KindOptions:
    """The option models of one connector kind."""

    kind: str
    connection: type[FileModel]
    stream: type[StreamBase]


BUILTIN_OPTIONS: dict[str, KindOptions] = {
    "sql": KindOptions("sql", SqlConnection, SqlStream),
    "files": KindOptions("files", FilesConnection, FilesStream),
    "rest": KindOptions("rest", RestConnection, RestStream),
}


def options_from_keys(kind: str, connection_keys: frozenset[str],
                      stream_keys: frozenset[str]) -> KindOptions:
    """Models for a kind that declares only key names (``connection_keys``/``stream_keys``):
    unknown keys are refused, values are passed through as written."""
    from pydantic import create_model

    conn_fields: dict[str, Any] = dict.fromkeys(sorted(connection_keys), (Any, None))
    stream_fields: dict[str, Any] = dict.fromkeys(sorted(stream_keys), (Any, None))
    connection = create_model(f"{kind}_connection", __base__=OptionsModel, **conn_fields)
    stream = create_model(f"{kind}_stream", __base__=StreamBase, **stream_fields)
    return KindOptions(kind, connection, stream)


def declared_options(kind_class: Any) -> KindOptions:
    """The option models a connector class declares (``connection_model`` and
    ``stream_model``), or key-only models from its ``connection_keys``/``stream_keys``."""
    kind = str(kind_class.kind)
    if kind in BUILTIN_OPTIONS:
        return BUILTIN_OPTIONS[kind]
    connection = getattr(kind_class, "connection_model", None)
    stream = getattr(kind_class, "stream_model", None)
    if connection is not None and stream is not None:
        return KindOptions(kind, connection, stream)
    return options_from_keys(kind, frozenset(getattr(kind_class, "connection_keys", ())),
                             frozenset(getattr(kind_class, "stream_keys", ())))


def declared_schema(options: Mapping[str, Any]) -> dict[str, str]:
    """The canonical declared types of a sql/files stream's options (``schema:``)."""
    raw = options.get("schema") or {}
    return {str(k): schema_type(str(v["type"] if isinstance(v, dict) else v))
            for k, v in raw.items()}

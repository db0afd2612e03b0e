"""``kind: rest``: paged JSON APIs (page/size, offset/limit, body cursor, ``Link`` header).

A stream is one endpoint. Each response page is turned into Arrow columns under the
stream's declared ``schema:``; a record that does not fit becomes a :class:`Reject` with its
location (``GET /jobseekers?page=3#4``: the 4th record of that page) and a reason, never a
silent drop.

State (owned by the engine) for an incremental stream::

    {"cursor": "2024-05-01T08:00:00", "boundary_keys": [["P001"], ["P007"]]}

``cursor`` is the highest ``cursor_field`` value delivered; it is sent back as the
``incremental.param`` and treated as an *inclusive* lower bound, so records updated at
that same instant later are not lost, while those already delivered (``boundary_keys``,
their primary keys) are skipped. While a read is under way, each chunk's state also
carries ``window``: the watermark the read started from, the page to request next and how
many records of it are done. Resuming from such a state re-requests that page with the
*same* ``updatedSince``, so a crash mid-stream gives no duplicates and no gaps. The
watermark itself only moves once the whole window has been read.

Limitation: page/offset pagination over data that changes *during* a read can shift
records between pages; cursor and ``Link`` pagination (server-side keyset) cannot.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pyarrow as pa

from hrss_hub.connectors.base import (
    LOCATION_COLUMN,
    Chunk,
    ConnectorKind,
    Reject,
    State,
    StreamConfig,
    SystemConfig,
)
from hrss_hub.connectors.http import HttpClient, JsonResponse, RetryPolicy, full_url
from hrss_hub.connectors.options import RestConnection, RestStream
from hrss_hub.connectors.registry import register_kind
from hrss_hub.errors import ConfigError, FatalSourceError, unknown_choice

log = logging.getLogger(__name__)

#: declared schema type → Arrow type
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}

_AUTH_KEYS: dict[str, frozenset[str]] = {
    "none": frozenset({"type"}),
    "bearer": frozenset({"type", "token_env"}),
    "basic": frozenset({"type", "username_env", "password_env"}),
    "api_key": frozenset({"type", "header", "param", "key_env"}),
}
_PAGINATION_KEYS: dict[str, frozenset[str]] = {
    "none": frozenset({"type"}),
    "page": frozenset({"type", "page_param", "size_param", "size", "start"}),
    "offset": frozenset({"type", "offset_param", "limit_param", "size"}),
    "cursor": frozenset({"type", "cursor_path", "cursor_param"}),
    "link": frozenset({"type"}),
}
_INCREMENTAL_KEYS = frozenset({"param", "cursor_field"})
_FIELD_KEYS = frozenset({"type", "required"})
_INT_RE = re.compile(r"[+-]?\d+")
_INT64 = (-(2**63), 2**63 - 1)


class _BadValue(ValueError):
    """A value that does not fit its declared type (the message is the reason)."""


# ---------------------------------------------------------------------------------------
# declared schema: one converter per type, JSON value → Python value Arrow accepts
# ---------------------------------------------------------------------------------------

def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        # numbers and booleans are fine for a string field; JSON spelling keeps 1.0 vs 1
        return json.dumps(value)
    raise _BadValue(f"expected string, got {_describe(value)}")


def _to_integer(value: Any) -> int:
    result: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        result = int(value.strip())
    if result is None:
        raise _BadValue(f"expected integer, got {_describe(value)}")
    if not _INT64[0] <= result <= _INT64[1]:
        raise _BadValue(f"integer {result} is out of the 64-bit range")
    return result


def _to_number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _BadValue(f"expected number, got {_describe(value)}")


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _BadValue(f"expected boolean, got {_describe(value)}")


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())  # 2024-05-01 and 20240501
        except ValueError:
            pass
    raise _BadValue(f"expected date (YYYY-MM-DD), got {_describe(value)}")


def _to_timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                # Arrow column is naive: values with an offset are stored as UTC wall time
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            return parsed
    raise _BadValue(f"expected timestamp (ISO 8601), got {_describe(value)}")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "date": _to_date,
    "timestamp": _to_timestamp,
}


@dataclass(frozen=True)
class _Field:
    name: str
    type: str
    required: bool

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]

    def convert(self, value: Any) -> Any:
        return _CONVERTERS[self.type](value)


def _jsonable(value: Any) -> Any:
    """A converted value as it can live in JSON state (dates as ISO strings)."""
    return value.isoformat() if isinstance(value, date) else value


# ---------------------------------------------------------------------------------------
# parsed configuration
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pagination:
    type: str = "none"
    page_param: str = "page"
    size_param: str = "size"
    offset_param: str = "offset"
    limit_param: str = "limit"
    size: int = 100
    start: int = 1
    cursor_path: str = "next"
    cursor_param: str = "cursor"

    def first(self) -> dict[str, Any]:
        """Position of the first page."""
        if self.type == "page":
            return {"params": {self.page_param: str(self.start), self.size_param: str(self.size)}}
        if self.type == "offset":
            return {"params": {self.offset_param: "0", self.limit_param: str(self.size)}}
        return {"params": {}}

    def after(self, position: Mapping[str, Any], response: JsonResponse,
              n_records: int) -> dict[str, Any] | None:
        """Position of the page after ``position``, or ``None`` when the stream is done."""
        if self.type == "none" or n_records == 0:
            # an empty page ends every style; a *short* page does not, because servers may
            # cap the page size below what we asked for
            return None
        params = dict(position["params"])
        if self.type == "page":
            params[self.page_param] = str(int(params[self.page_param]) + 1)
            return {"params": params}
        if self.type == "offset":
            params[self.offset_param] = str(int(params[self.offset_param]) + n_records)
            return {"params": params}
        if self.type == "cursor":
            token = _at_path(response.body, self.cursor_path)
            if token in (None, "") or isinstance(token, dict | list):
                return None
            if str(token) == params.get(self.cursor_param):
                raise _LoopError(f"the server returned the same cursor {self.cursor_param} "
                                 "twice in a row")
            params[self.cursor_param] = str(token)
            return {"params": params}
        # link: RFC 8288 rel="next"; relative references resolve against the request URL
        nxt = response.links.get("next", {}).get("url")
        if not nxt:
            return None
        url = urljoin(response.url, nxt)
        if url == position.get("url"):
            raise _LoopError('the server\'s Link rel="next" points at the same page')
        return {"url": url, "params": {}}


class _LoopError(Exception):
    """The server's pagination would loop forever."""


@dataclass(frozen=True)
class _Stream:
    name: str
    path: str
    params: dict[str, str]
    records_path: str
    pagination: _Pagination
    fields: tuple[_Field, ...]
    primary_key: tuple[str, ...]
    cursor_field: str | None
    since_param: str | None
    schema: pa.Schema = field(compare=False)

    def get_field(self, name: str) -> _Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class _Auth:
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None
    secrets: tuple[str, ...] = ()
    hint: str = "check the credentials"

    def __repr__(self) -> str:
        return "_Auth(***)"


def _at_path(body: Any, path: str) -> Any:
    """Value at a dotted path (``data.items``); ``None`` when any step is missing."""
    node = body
    for part in (p for p in path.split(".") if p):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


# ---------------------------------------------------------------------------------------
# the connector
# ---------------------------------------------------------------------------------------

@register_kind
class RestConnector(ConnectorKind):
    """Reads JSON records from paged HTTP APIs. See ``docs/connectors.md`` (``kind: rest``)."""

    kind = "rest"
    # the file's options, checked when it is loaded (also at DAG-parse time)
    connection_model: ClassVar[type[RestConnection]] = RestConnection
    stream_model: ClassVar[type[RestStream]] = RestStream

    def __init__(self, config: SystemConfig) -> None:
        super().__init__(config)
        # parse everything now (no I/O): a wrong YAML fails when the connector is built
        self._policy = self._parse_policy()
        self._streams = {s.name: self._parse_stream(s, i) for i, s in enumerate(config.streams)}
        self._auth_cfg = self._parse_auth_config()
        self._resolved: tuple[str, _Auth] | None = None

    def __repr__(self) -> str:
        return f"RestConnector(system={self.config.system!r})"

    # -- configuration --------------------------------------------------------------------

    def _error(self, message: str, where: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, {"system": self.config.system,
                                     "file": str(self.config.source_file), "path": where}, hint)

    def _check_keys(self, data: Mapping[str, Any], valid: frozenset[str], where: str) -> None:
        for key in data:
            if key not in valid:
                raise unknown_choice("key", str(key), valid, system=self.config.system,
                                     file=str(self.config.source_file), path=f"{where}.{key}")

    def _number(self, key: str, default: float, *, integer: bool = False,
                allow_zero: bool = False) -> float:
        value = self.config.connection.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            value > 0 or (allow_zero and value == 0)) and (not integer or isinstance(value, int))
        if not ok:
            sign = "non-negative" if allow_zero else "positive"
            kind = "integer" if integer else "number"
            raise self._error(f"connection.{key} must be a {sign} {kind}, got {value!r}",
                              f"connection.{key}")
        return float(value)

    def _parse_policy(self) -> RetryPolicy:
        rps = self.config.connection.get("max_requests_per_second")
        return RetryPolicy(
            max_retries=int(self._number("max_retries", 5, integer=True, allow_zero=True)),
            backoff_seconds=self._number("backoff_seconds", 0.5, allow_zero=True),
            max_backoff_seconds=self._number("max_backoff_seconds", 30.0),
            timeout_seconds=self._number("timeout_seconds", 10.0),
            max_requests_per_second=(self._number("max_requests_per_second", 1.0)
                                     if rps is not None else None),
        )

    def _parse_auth_config(self) -> dict[str, Any]:
        auth = self.config.connection.get("auth") or {"type": "none"}
        if not isinstance(auth, dict):
            raise self._error("connection.auth must be a mapping with a type",
                              "connection.auth")
        kind = str(auth.get("type", "none"))
        if kind not in _AUTH_KEYS:
            raise unknown_choice("auth type", kind, _AUTH_KEYS, system=self.config.system,
                                 file=str(self.config.source_file), path="connection.auth.type")
        self._check_keys(auth, _AUTH_KEYS[kind], "connection.auth")
        if kind == "api_key" and ("header" in auth) == ("param" in auth):
            raise self._error("auth type api_key needs exactly one of header or param",
                              "connection.auth", "e.g. {type: api_key, header: X-API-Key, "
                              "key_env: MY_KEY}")
        conn_id = self.config.connection.get("conn_id")
        needed = {"bearer": ["token_env"], "basic": ["username_env", "password_env"],
                  "api_key": ["key_env"]}.get(kind, [])
        for key in needed:
            if not conn_id and not auth.get(key):
                raise self._error(f"auth type {kind} needs {key} (the name of an environment "
                                  "variable holding the secret)", f"connection.auth.{key}",
                                  "or set connection.conn_id to use an Airflow connection")
        return dict(auth)

    def _parse_stream(self, stream: StreamConfig, index: int) -> _Stream:
        where = f"streams[{index}]"
        opts = stream.options
        path = opts.get("path")
        if not isinstance(path, str) or not path:
            raise self._error(f"{where}.path is required (the endpoint, e.g. /jobseekers)",
                              f"{where}.path")
        params = opts.get("params") or {}
        if not isinstance(params, dict):
            raise self._error(f"{where}.params must be a mapping", f"{where}.params")
        records_path = opts.get("records_path", "")
        if not isinstance(records_path, str):
            raise self._error(f"{where}.records_path must be a dotted path like data.items",
                              f"{where}.records_path")
        pagination = self._parse_pagination(opts.get("pagination"), f"{where}.pagination")
        declared = self._parse_schema(opts.get("schema"), f"{where}.schema")
        names = [f.name for f in declared]
        for key in stream.primary_key:
            if key not in names:
                raise self._error(f"primary key {key!r} is not declared in {where}.schema",
                                  f"{where}.primary_key", "declare it under schema:")
        since_param, cursor_field = None, stream.cursor
        incremental = opts.get("incremental")
        if incremental is not None:
            if not isinstance(incremental, dict):
                raise self._error(f"{where}.incremental must be a mapping",
                                  f"{where}.incremental")
            self._check_keys(incremental, _INCREMENTAL_KEYS, f"{where}.incremental")
            since_param = incremental.get("param")
            field_name = incremental.get("cursor_field") or stream.cursor
            if stream.cursor and field_name != stream.cursor:
                raise self._error(f"{where}.cursor ({stream.cursor}) and incremental."
                                  f"cursor_field ({field_name}) differ", f"{where}.cursor")
            if not field_name:
                raise self._error(f"{where}.incremental needs cursor_field",
                                  f"{where}.incremental.cursor_field")
            cursor_field = str(field_name)
        if cursor_field is not None and cursor_field not in names:
            raise self._error(f"cursor field {cursor_field!r} is not declared in {where}.schema",
                              f"{where}.incremental.cursor_field")
        # primary-key and cursor fields can never be empty: they place the record
        required = set(stream.primary_key) | ({cursor_field} if cursor_field else set())
        fields = tuple(_Field(f.name, f.type, f.required or f.name in required)
                       for f in declared)
        schema = pa.schema([pa.field(f.name, f.arrow_type, nullable=not f.required)
                            for f in fields] + [pa.field(LOCATION_COLUMN, pa.string(), False)])
        return _Stream(
            name=stream.name, path=path, params={str(k): str(v) for k, v in params.items()},
            records_path=records_path, pagination=pagination, fields=fields,
            primary_key=tuple(stream.primary_key), cursor_field=cursor_field,
            since_param=str(since_param) if since_param else None, schema=schema)

    def _parse_pagination(self, raw: Any, where: str) -> _Pagination:
        if raw is None:
            return _Pagination()
        if not isinstance(raw, dict):
            raise self._error(f"{where} must be a mapping with a type", where)
        kind = str(raw.get("type", ""))
        if kind not in _PAGINATION_KEYS:
            raise unknown_choice("pagination type", kind, _PAGINATION_KEYS,
                                 system=self.config.system, file=str(self.config.source_file),
                                 path=f"{where}.type")
        self._check_keys(raw, _PAGINATION_KEYS[kind], where)
        size = raw.get("size", 100)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise self._error(f"{where}.size must be a positive integer", f"{where}.size")
        if kind == "cursor" and not raw.get("cursor_path"):
            raise self._error(f"{where}.cursor_path is required for cursor pagination "
                              "(dotted path of the next-page token in the body)",
                              f"{where}.cursor_path")
        return _Pagination(type=kind, **{k: v for k, v in raw.items() if k != "type"})

    def _parse_schema(self, raw: Any, where: str) -> list[_Field]:
        if not isinstance(raw, dict) or not raw:
            raise self._error(f"{where} is required: the type of each field "
                              f"({' | '.join(ARROW_TYPES)})", where,
                              "e.g. schema: {id: string, updatedAt: timestamp}")
        fields = []
        for name, spec in raw.items():
            required = False
            if isinstance(spec, dict):
                self._check_keys(spec, _FIELD_KEYS, f"{where}.{name}")
                required = bool(spec.get("required", False))
                spec = spec.get("type")
            if spec not in ARROW_TYPES:
                raise unknown_choice("field type", str(spec), ARROW_TYPES,
                                     system=self.config.system,
                                     file=str(self.config.source_file), path=f"{where}.{name}")
            fields.append(_Field(str(name), str(spec), required))
        return fields

    # -- credentials (resolved lazily: building a connector must not need secrets) ---------

    def _resolve(self) -> tuple[str, _Auth]:
        if self._resolved is None:
            self._resolved = self._resolve_now()
        return self._resolved

    def _resolve_now(self) -> tuple[str, _Auth]:
        from hrss_hub.connectors.credentials import airflow_connection, env_secret

        conn = self.config.connection
        ctx = {"system": self.config.system, "file": str(self.config.source_file)}
        login = password = ""
        base_url = str(conn.get("base_url") or "")
        if conn.get("base_url_env"):
            base_url = env_secret(str(conn["base_url_env"]), **ctx, path="connection.base_url_env")
        if conn.get("conn_id"):
            info = airflow_connection(str(conn["conn_id"]), **ctx, path="connection.conn_id")
            login, password = info.login, info.password
            if not base_url:
                base_url = _airflow_base_url(info.conn_type, info.host, info.port, info.schema)
        if not base_url:
            raise self._error("connection needs base_url, base_url_env or conn_id",
                              "connection", "e.g. base_url: http://127.0.0.1:8765/api")
        auth = self._auth_cfg
        kind = auth.get("type", "none")

        def secret(key: str, fallback: str) -> str:
            if auth.get(key):
                return env_secret(str(auth[key]), **ctx, path=f"connection.auth.{key}")
            if fallback:
                return fallback
            raise self._error(f"auth type {kind} needs {key}", f"connection.auth.{key}")

        where = f"connection.auth of {self.config.source_file.name}"
        if kind == "bearer":
            token = secret("token_env", password)
            source = auth.get("token_env") or f"conn_id {conn.get('conn_id')} (password)"
            return base_url, _Auth(headers={"Authorization": f"Bearer {token}"},
                                   secrets=(token,),
                                   hint=f"check token_env {source} ({where}): the token may be "
                                        "wrong or expired")
        if kind == "basic" or (kind == "none" and (login or password) and "auth" not in conn):
            user = secret("username_env", login)
            pw = secret("password_env", password)
            token = base64.b64encode(f"{user}:{pw}".encode()).decode()
            names = (f"username_env {auth['username_env']} / password_env {auth['password_env']}"
                     if auth.get("username_env") else f"conn_id {conn.get('conn_id')}")
            return base_url, _Auth(basic=(user, pw), secrets=(pw, token),
                                   hint=f"check {names} ({where})")
        if kind == "api_key":
            key = secret("key_env", password)
            source = auth.get("key_env") or f"conn_id {conn.get('conn_id')} (password)"
            hint = f"check key_env {source} ({where}): the API key may be wrong or revoked"
            if auth.get("header"):
                return base_url, _Auth(headers={str(auth["header"]): key}, secrets=(key,),
                                       hint=hint)
            return base_url, _Auth(params={str(auth["param"]): key}, secrets=(key,), hint=hint)
        return base_url, _Auth(hint="the server requires authentication: configure "
                                    "connection.auth")

    def _client(self) -> tuple[str, HttpClient]:
        base_url, auth = self._resolve()
        headers = {str(k): str(v) for k, v in (self.config.connection.get("headers") or {}).items()}
        verify = self.config.connection.get("verify", True)
        client = HttpClient(self._policy, headers={**headers, **auth.headers},
                            params=auth.params, basic_auth=auth.basic, secrets=auth.secrets,
                            auth_hint=auth.hint,
                            verify=verify if isinstance(verify, bool | str) else True)
        return base_url, client

    # -- the contract ---------------------------------------------------------------------

    def _spec(self, name: str) -> _Stream:
        self.config.stream(name)  # the error listing valid names
        return self._streams[name]

    def _context(self, spec: _Stream) -> dict[str, Any]:
        return {"system": self.config.system, "stream": spec.name}

    def check(self) -> None:
        """One request for the first page of the first stream; checks auth and records_path."""
        spec = self._streams[self.config.streams[0].name]
        base_url, client = self._client()
        try:
            url = _join(base_url, spec.path)
            params = {**spec.params, **spec.pagination.first()["params"]}
            response = client.get_json(url, params, context=self._context(spec))
            self._records(spec, response, client.safe(full_url(url, params)))
        finally:
            client.close()

    def discover(self) -> Mapping[str, pa.Schema]:
        """Each stream's Arrow schema: the declared fields in order, plus ``_location``."""
        return {name: spec.schema for name, spec in self._streams.items()}

    def _records(self, spec: _Stream, response: JsonResponse, shown: str) -> list[Any]:
        records = _at_path(response.body, spec.records_path) if spec.records_path \
            else response.body
        if records is None and spec.records_path and _has_parent(response.body,
                                                                 spec.records_path):
            return []  # "items": null is an empty page; a missing key is an error (below)
        if not isinstance(records, list):
            found = (f"top-level keys: {', '.join(sorted(response.body))}"
                     if isinstance(response.body, dict) else
                     f"the body is a JSON {type(response.body).__name__}")
            raise FatalSourceError(
                f"no list of records at records_path {spec.records_path or '(the body)'!r} "
                f"in the response to GET {shown} ({found})", self._context(spec),
                "set the stream's records_path to the dotted path of the record list")
        return records

    def read(self, stream: str, state: State | None = None) -> Iterator[Chunk]:
        """Yield chunks of at most ``batch_size`` rows, each with a safe resume state."""
        spec = self._spec(stream)
        reader = _Reader(self, spec, dict(state or {}))
        base_url, client = self._client()
        try:
            yield from reader.run(base_url, client)
        finally:
            client.close()


def _has_parent(body: Any, path: str) -> bool:
    head, _, last = path.rpartition(".")
    parent = _at_path(body, head) if head else body
    return isinstance(parent, dict) and last in parent


def _join(base_url: str, path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _airflow_base_url(conn_type: str, host: str, port: int | None, schema: str) -> str:
    """Base URL of an Airflow HTTP connection (like ``HttpHook``: ``schema`` is the scheme)."""
    if "://" in host:
        return host
    schemes = ("http", "https")
    scheme = schema if schema in schemes else conn_type if conn_type in schemes else "http"
    path = "" if schema in schemes else schema
    return f"{scheme}://{host}" + (f":{port}" if port else "") + (f"/{path}" if path else "")


# ---------------------------------------------------------------------------------------
# one read: pages → converted rows → bounded chunks, with resumable state
# ---------------------------------------------------------------------------------------

class _Reader:
    """The state machine of one ``read`` call."""

    def __init__(self, connector: RestConnector, spec: _Stream, state: State) -> None:
        self.c = connector
        self.spec = spec
        self.state_in = state
        self.batch_size = connector.config.batch_size
        self.context = {"system": connector.config.system, "stream": spec.name}
        cursor_field = spec.cursor_field
        self.cursor_fn: Callable[[Any], Any] | None = (
            spec.get_field(cursor_field).convert if cursor_field else None)
        self.extra_seen: set[str] = set()
        self.extra_records = 0
        self.older_skipped = 0
        self.declared = {f.name for f in spec.fields}
        self._validate_state()

    def _bad_state(self, why: str) -> FatalSourceError:
        return FatalSourceError(f"the stored state is not a rest-connector state: {why}",
                                self.context, "reset the stream's state to re-read it")

    def _validate_state(self) -> None:
        st = self.state_in
        if not isinstance(st.get("boundary_keys", []), list):
            raise self._bad_state("boundary_keys must be a list")
        window = st.get("window")
        if window is not None and (not isinstance(window, dict)
                                   or not isinstance(window.get("next"), dict)):
            raise self._bad_state("window.next is missing")
        if self.cursor_fn and st.get("cursor") is not None:
            try:
                self.cursor_fn(st["cursor"])
            except _BadValue as exc:
                raise self._bad_state(f"cursor: {exc}") from None

    def _key(self, row: Mapping[str, Any]) -> list[str]:
        # strings, like the SQL connector's boundary keys: one state shape for every kind
        return [str(_jsonable(row[k])) for k in self.spec.primary_key]

    def run(self, base_url: str, client: HttpClient) -> Iterator[Chunk]:
        spec = self.spec
        st = self.state_in
        window = st.get("window")
        if window is None:
            window = {"since": st.get("cursor"), "next": spec.pagination.first(), "page": 1,
                      "skip": 0, "max_cursor": st.get("cursor"),
                      "max_keys": list(st.get("boundary_keys", []))}
        since_raw = window.get("since")
        since = self.cursor_fn(since_raw) if (self.cursor_fn and since_raw is not None) else None
        # records at exactly the watermark that the last run delivered (inclusive bound)
        delivered = {json.dumps([str(v) for v in (k if isinstance(k, list) else [k])])
                     for k in st.get("boundary_keys", [])} if since is not None else set()
        max_raw = window.get("max_cursor")
        max_val = self.cursor_fn(max_raw) if (self.cursor_fn and max_raw is not None) else None
        max_keys: list[Any] = list(window.get("max_keys", []))
        position: dict[str, Any] | None = window["next"]
        page_no = int(window.get("page", 1))
        skip = int(window.get("skip", 0))

        def base_state() -> State:
            out: State = {}
            if spec.cursor_field and st.get("cursor") is not None:
                out = {"cursor": st["cursor"], "boundary_keys": list(st.get("boundary_keys", []))}
            return out

        def mid_state(pos: Mapping[str, Any], page: int, done: int) -> State:
            return {**base_state(), "window": {
                "since": since_raw, "next": dict(pos), "page": page, "skip": done,
                "max_cursor": max_raw, "max_keys": list(max_keys)}}

        columns: dict[str, list[Any]] = {f.name: [] for f in spec.fields}
        locations: list[str] = []
        rejects: list[Reject] = []
        last_state: State | None = None

        def flush(state: State) -> Chunk:
            arrays = [pa.array(columns[f.name], type=f.arrow_type) for f in spec.fields]
            arrays.append(pa.array(locations, type=pa.string()))
            batch = pa.RecordBatch.from_arrays(arrays, schema=spec.schema)
            chunk = Chunk(batch=batch, state=state, rejects=list(rejects))
            for col in columns.values():
                col.clear()
            locations.clear()
            rejects.clear()
            return chunk

        while position is not None:
            url = position.get("url") or _join(base_url, spec.path)
            if position.get("url"):
                params: dict[str, str] = dict(position["params"])
            else:
                params = {**spec.params, **position["params"]}
                if spec.since_param and since_raw is not None:
                    params[spec.since_param] = _param_value(since_raw)
            response = client.get_json(url, params, context=self.context)
            prefix = self._location_prefix(base_url, url, position, client)
            records = self.c._records(spec, response, client.safe(full_url(url, params)))
            for index in range(skip, len(records)):
                record = records[index]
                location = f"{prefix}#{index + 1}"
                row, reason = self._convert(record)
                if row is None:
                    rejects.append(Reject(location=location, reason=reason,
                                          raw=json.dumps(record, ensure_ascii=False)))
                elif not self._is_new(row, since, delivered):
                    pass  # delivered by an earlier run: counted in _is_new
                else:
                    for name, value in row.items():
                        columns[name].append(value)
                    locations.append(location)
                    if self.cursor_fn and spec.cursor_field:
                        value = row[spec.cursor_field]
                        if max_val is None or value > max_val:
                            max_val, max_raw = value, record[spec.cursor_field]
                            max_keys = [self._key(row)]
                        elif value == max_val:
                            max_keys.append(self._key(row))
                if len(locations) + len(rejects) >= self.batch_size:
                    last_state = mid_state(position, page_no, index + 1)
                    yield flush(last_state)
            try:
                position = spec.pagination.after(position, response, len(records))
                if position is not None and position.get("url"):
                    # servers often echo an API key into their next links: the state must
                    # not store it, and the client adds it to every request anyway
                    position["url"] = _without_params(position["url"], client.auth_param_names)
            except _LoopError as exc:
                raise FatalSourceError(f"{exc} (GET {client.safe(full_url(url, params))})",
                                       self.context, "check the stream's pagination settings"
                                       ) from None
            page_no += 1
            skip = 0
        final = base_state() if spec.cursor_field else {}
        if spec.cursor_field and max_raw is not None:
            final = {"cursor": max_raw, "boundary_keys": sorted(max_keys)}
        self._log_summary()
        if locations or rejects or final != (last_state if last_state is not None
                                             else self.state_in):
            yield flush(final)

    def _location_prefix(self, base_url: str, url: str, position: Mapping[str, Any],
                         client: HttpClient) -> str:
        # Short and stable: the stream path plus only the paging parameters, e.g.
        # "GET /jobseekers?page=3"; for Link paging the next URL's own path and query.
        if position.get("url"):
            parts = urlsplit(client.safe(url))
            base_path = urlsplit(base_url).path.rstrip("/")
            path = parts.path[len(base_path):] if parts.path.startswith(base_path) else parts.path
            return f"GET {path}" + (f"?{parts.query}" if parts.query else "")
        # paging parameters are never secrets, so they are shown as they are
        query = urlencode(position["params"])
        path = "/" + self.spec.path.lstrip("/")
        return f"GET {path}" + (f"?{query}" if query else "")

    def _convert(self, record: Any) -> tuple[dict[str, Any] | None, str]:
        if not isinstance(record, dict):
            return None, f"record is not a JSON object but {_describe(record)}"
        row: dict[str, Any] = {}
        problems: list[str] = []
        for f in self.spec.fields:
            value = record.get(f.name)
            if value is None:
                if f.required:
                    problems.append(f"missing required field {f.name!r}" if f.name not in record
                                    else f"required field {f.name!r} is null")
                row[f.name] = None
                continue
            try:
                row[f.name] = f.convert(value)
            except _BadValue as exc:
                problems.append(f"field {f.name!r}: {exc}")
        extra = record.keys() - self.declared
        if extra:
            self.extra_records += 1
            new = extra - self.extra_seen
            if new:
                self.extra_seen |= new
                log.warning("%s.%s: undeclared field(s) %s ignored (not in the stream's "
                            "schema:)", self.c.config.system, self.spec.name,
                            ", ".join(sorted(new)))
        if problems:
            return None, "; ".join(problems)
        return row, ""

    def _is_new(self, row: Mapping[str, Any], since: Any, delivered: set[str]) -> bool:
        if since is None or not self.spec.cursor_field:
            return True
        value = row[self.spec.cursor_field]
        if value > since:
            return True
        if value == since:
            return json.dumps(self._key(row)) not in delivered
        self.older_skipped += 1
        return False

    def _log_summary(self) -> None:
        name = f"{self.c.config.system}.{self.spec.name}"
        if self.extra_records:
            log.warning("%s: %d record(s) had undeclared fields (%s), ignored", name,
                        self.extra_records, ", ".join(sorted(self.extra_seen)))
        if self.older_skipped:
            log.warning("%s: %d record(s) older than the watermark were skipped (delivered by "
                        "an earlier run); does the server honour the incremental param?", name,
                        self.older_skipped)


def _without_params(url: str, names: frozenset[str]) -> str:
    if not names:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in names]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return json.dumps(value)
    return str(value)

"""``kind: rest``: paged JSON APIs (page/size, offset/limit, body cursor, ``Link`` header, …).

A stream is one endpoint. Each response page is turned into Arrow columns under the
stream's declared ``schema:``; a record that does not fit becomes a :class:`Reject` with its
location (``GET /jobseekers?page=3#4``: the 4th record of that page) and a reason, never a
silent drop.

Pagination styles are the classes of :mod:`hrss_hub.connectors.paginators`.

State (owned by the engine) for an incremental stream, as in
:mod:`hrss_hub.connectors.incremental` (shared with ``kind: sql``)::

    {"cursor": "2024-05-01T08:00:00", "boundary_keys": ["P001", "P007"]}

``cursor`` is the highest ``cursor_field`` value delivered, in the server's own spelling;
it is sent back as the ``incremental.param`` and treated as an *inclusive* lower bound, so
records updated at that same instant later are not lost, while those already delivered
(``boundary_keys``, their encoded primary keys) are skipped. Each page is converted to an
Arrow batch first and filtered against the watermark in one vectorized step.

While a read is under way, each chunk's state also carries ``window``: the watermark the
read started from, the page to request next (a :class:`~paginators.PageRequest`) and how
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

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
from hrss_hub.connectors.incremental import Incremental, Watermark
from hrss_hub.connectors.options import RestConnection, RestStream
from hrss_hub.connectors.paginators import (
    OffsetOptions,
    PageNumberOptions,
    PageRequest,
    PaginationLoop,
    PaginationOptions,
    as_int,
    at_path,
    create_paginator,
    parse_pagination,
)
from hrss_hub.connectors.registry import register_kind
from hrss_hub.connectors.rest_schema import ARROW_TYPES, BadValue, DeclaredField, describe
from hrss_hub.errors import ConfigError, FatalSourceError, unknown_choice

log = logging.getLogger(__name__)

#: declared schema type → Arrow type
_AUTH_KEYS: dict[str, frozenset[str]] = {
    "none": frozenset({"type"}),
    "bearer": frozenset({"type", "token_env"}),
    "basic": frozenset({"type", "username_env", "password_env"}),
    "api_key": frozenset({"type", "header", "param", "key_env"}),
}
_INCREMENTAL_KEYS = frozenset({"param", "cursor_field"})
_FIELD_KEYS = frozenset({"type", "required"})


# ---------------------------------------------------------------------------------------
# parsed configuration
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Stream:
    name: str
    path: str
    params: dict[str, str]
    records_path: str
    pagination: PaginationOptions
    fields: tuple[DeclaredField, ...]
    primary_key: tuple[str, ...]
    cursor_field: str | None
    since_param: str | None
    schema: pa.Schema = field(compare=False)

    def get_field(self, name: str) -> DeclaredField:
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
        fields = tuple(DeclaredField(f.name, f.type, f.required or f.name in required)
                       for f in declared)
        schema = pa.schema([pa.field(f.name, f.arrow_type, nullable=not f.required)
                            for f in fields] + [pa.field(LOCATION_COLUMN, pa.string(), False)])
        return _Stream(
            name=stream.name, path=path, params={str(k): str(v) for k, v in params.items()},
            records_path=records_path, pagination=pagination, fields=fields,
            primary_key=tuple(stream.primary_key), cursor_field=cursor_field,
            since_param=str(since_param) if since_param else None, schema=schema)

    def _parse_pagination(self, raw: Any, where: str) -> PaginationOptions:
        return parse_pagination(raw, where, system=self.config.system,
                                file=str(self.config.source_file))

    def _parse_schema(self, raw: Any, where: str) -> list[DeclaredField]:
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
            fields.append(DeclaredField(str(name), str(spec), required))
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
            first = PageRequest()
            create_paginator(spec.pagination).init_request(first)
            params = {**spec.params, **first.params}
            response = client.get_json(url, params, context=self._context(spec))
            self._records(spec, response, client.safe(full_url(url, params)))
        finally:
            client.close()

    def estimate_rows(self, stream: str, state: State | None = None) -> int | None:
        """The records ``read(stream, state)`` will get, as the API itself counts them.

        Only for a pagination whose responses carry the number of matching records
        (``records_total_path``, or an offset ``total_path``): one request for the first
        page (page size 1 where the style has one) with the read's ``since`` parameter.
        ``None`` (unknown) otherwise, and for a read resuming inside a paged window.
        """
        spec = self._spec(stream)
        path = spec.pagination.records_total()
        if path is None or (state or {}).get("window"):
            return None
        since = _Reader(self, spec, dict(state or {})).since
        first = PageRequest()
        create_paginator(spec.pagination).init_request(first)
        params = {**spec.params, **first.params}
        size_param = (spec.pagination.size_param if isinstance(spec.pagination, PageNumberOptions)
                      else spec.pagination.limit_param
                      if isinstance(spec.pagination, OffsetOptions) else None)
        if size_param:
            params[size_param] = "1"
        if spec.since_param and since.cursor is not None:
            params[spec.since_param] = _param_value(since.cursor)
        base_url, client = self._client()
        try:
            response = client.get_json(_join(base_url, spec.path), params,
                                       context=self._context(spec))
        finally:
            client.close()
        total = as_int(at_path(response.body, path))
        # the records at the watermark that were delivered already are skipped by the read
        return None if total is None else max(total - len(since.keys), 0)

    def discover(self) -> Mapping[str, pa.Schema]:
        """Each stream's Arrow schema: the declared fields in order, plus ``_location``."""
        return {name: spec.schema for name, spec in self._streams.items()}

    def declared_columns(self, stream: str) -> list[str] | None:
        """The fields of the stream's ``schema:`` (a REST stream always declares them)."""
        return [f.name for f in self._spec(stream).fields]

    def _records(self, spec: _Stream, response: JsonResponse, shown: str) -> list[Any]:
        records = at_path(response.body, spec.records_path) if spec.records_path \
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
    parent = at_path(body, head) if head else body
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

@dataclass
class _Page:
    """One response page converted: its rows as a batch, plus what became rejects."""

    #: converted rows (incl. ``_location``), in record order
    batch: pa.RecordBatch
    #: record index (0-based, within the page) of each row of ``batch``
    indices: list[int]
    #: the cursor value of each row as the server spelled it (for the state)
    raw_cursors: list[Any]
    #: (record index, reject) for records that did not fit the schema
    rejects: list[tuple[int, Reject]]


class _Reader:
    """The state machine of one ``read`` call."""

    def __init__(self, connector: RestConnector, spec: _Stream, state: State) -> None:
        self.c = connector
        self.spec = spec
        self.state_in = state
        self.batch_size = connector.config.batch_size
        self.context = {"system": connector.config.system, "stream": spec.name}
        cursor_field = spec.cursor_field
        self.inc: Incremental | None = None
        if cursor_field:
            cursor = spec.get_field(cursor_field)
            self.inc = Incremental(cursor_field, spec.primary_key, cursor.arrow_type,
                                   parse=cursor.convert)
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
        window = st.get("window")
        if window is not None and (not isinstance(window, dict)
                                   or not isinstance(window.get("next"), dict)):
            raise self._bad_state("window.next is missing")
        try:
            self.since = Watermark.from_state(
                {"cursor": window.get("since") if window else st.get("cursor"),
                 "boundary_keys": st.get("boundary_keys")})
            self.start_mark = Watermark.from_state(
                {"cursor": window.get("max_cursor"), "boundary_keys": window.get("max_keys")}
                if window else st)
            self.request = PageRequest.from_json(window["next"]) if window else None
            if self.inc is not None:
                self.inc.value(self.since)
                self.inc.value(self.start_mark)
        except (ValueError, BadValue) as exc:
            raise self._bad_state(str(exc)) from None

    def run(self, base_url: str, client: HttpClient) -> Iterator[Chunk]:
        spec = self.spec
        st = self.state_in
        inc = self.inc
        since = self.since
        window = st.get("window") or {}
        paginator = create_paginator(spec.pagination)
        if self.request is None:
            request = PageRequest()
            paginator.init_request(request)
        else:
            request = self.request
            paginator.resume(request)
        page_no = int(window.get("page", 1))
        skip = int(window.get("skip", 0))
        mark = self.start_mark

        def base_state() -> State:
            return since.to_state() if inc is not None else {}

        def mid_state(done: int) -> State:
            return {**base_state(), "window": {
                "since": since.cursor, "next": request.to_json(), "page": page_no,
                "skip": done, "max_cursor": mark.cursor, "max_keys": sorted(mark.keys)}}

        pieces: list[pa.RecordBatch] = []
        buffered = 0
        rejects: list[Reject] = []
        last_state: State | None = None

        def flush(state: State) -> Chunk:
            nonlocal buffered
            batch = pa.concat_batches(pieces) if pieces else pa.record_batch(
                [pa.array([], f.type) for f in spec.schema], schema=spec.schema)
            chunk = Chunk(batch=batch, state=state, rejects=list(rejects))
            pieces.clear()
            rejects.clear()
            buffered = 0
            return chunk

        def take(page: _Page, segment: list[int]) -> None:
            """Move the page rows at ``segment`` into the chunk being built."""
            nonlocal mark, buffered
            if not segment:
                return
            piece = page.batch.take(pa.array(segment, pa.int64()))
            if inc is not None:
                mark = inc.advance(mark, piece, lambda i: page.raw_cursors[segment[i]])
            pieces.append(piece)
            buffered += len(segment)
            segment.clear()

        while True:
            url = request.url or _join(base_url, spec.path)
            if request.url:
                params: dict[str, str] = dict(request.params)
            else:
                params = {**spec.params, **request.params}
                if spec.since_param and since.cursor is not None:
                    params[spec.since_param] = _param_value(since.cursor)
            response = client.get_json(url, params, context=self.context)
            prefix = self._location_prefix(base_url, url, request, client)
            records = self.c._records(spec, response, client.safe(full_url(url, params)))
            page = self._convert_page(records, skip, prefix)
            keep = None
            if inc is not None:
                new = inc.new_rows(page.batch, since)
                self.older_skipped += new.older
                if not new.all_new:
                    keep = new.mask
            kept_positions = (list(range(page.batch.num_rows)) if keep is None else
                              pc.indices_nonzero(keep).to_pylist())
            # records in page order: each a kept row (its position) or a reject
            events: list[tuple[int, int | None, Reject | None]] = [
                (page.indices[pos], pos, None) for pos in kept_positions]
            events += [(index, None, reject) for index, reject in page.rejects]
            events.sort(key=lambda e: e[0])
            segment: list[int] = []
            for index, pos, reject in events:
                if pos is not None:
                    segment.append(pos)
                else:
                    assert reject is not None
                    rejects.append(reject)
                if buffered + len(segment) + len(rejects) >= self.batch_size:
                    take(page, segment)
                    skip_next = index + 1
                    last_state = mid_state(skip_next)
                    yield flush(last_state)
            take(page, segment)
            try:
                paginator.update_state(response, records)
            except PaginationLoop as exc:
                raise FatalSourceError(f"{exc} (GET {client.safe(full_url(url, params))})",
                                       self.context, "check the stream's pagination settings"
                                       ) from None
            if not paginator.has_next_page:
                break
            paginator.update_request(request)
            if request.url:
                # servers often echo an API key into their next links: the state must
                # not store it, and the client adds it to every request anyway
                request.url = _without_params(request.url, client.auth_param_names)
            page_no += 1
            skip = 0
        final = mark.to_state() if inc is not None else {}
        self._log_summary()
        if buffered or rejects or final != (last_state if last_state is not None
                                            else self.state_in):
            yield flush(final)

    def _location_prefix(self, base_url: str, url: str, request: PageRequest,
                         client: HttpClient) -> str:
        # Short and stable: the stream path plus only the paging parameters, e.g.
        # "GET /jobseekers?page=3"; for Link paging the next URL's own path and query.
        if request.url:
            parts = urlsplit(client.safe(url))
            base_path = urlsplit(base_url).path.rstrip("/")
            path = parts.path[len(base_path):] if parts.path.startswith(base_path) else parts.path
            return f"GET {path}" + (f"?{parts.query}" if parts.query else "")
        # paging parameters are never secrets, so they are shown as they are
        query = urlencode(request.params)
        path = "/" + self.spec.path.lstrip("/")
        return f"GET {path}" + (f"?{query}" if query else "")

    def _convert_page(self, records: list[Any], skip: int, prefix: str) -> _Page:
        """Convert records ``skip``… of one page into columns (one pass, per value)."""
        spec = self.spec
        columns: dict[str, list[Any]] = {f.name: [] for f in spec.fields}
        locations: list[str] = []
        indices: list[int] = []
        raw_cursors: list[Any] = []
        rejects: list[tuple[int, Reject]] = []
        cursor_field = spec.cursor_field
        for index in range(skip, len(records)):
            record = records[index]
            location = f"{prefix}#{index + 1}"
            row, reason = self._convert(record)
            if row is None:
                rejects.append((index, Reject(location=location, reason=reason,
                                              raw=json.dumps(record, ensure_ascii=False))))
                continue
            for name, value in row.items():
                columns[name].append(value)
            locations.append(location)
            indices.append(index)
            if cursor_field:
                raw_cursors.append(record[cursor_field])
        arrays = [pa.array(columns[f.name], type=f.arrow_type) for f in spec.fields]
        arrays.append(pa.array(locations, type=pa.string()))
        batch = pa.RecordBatch.from_arrays(arrays, schema=spec.schema)
        return _Page(batch, indices, raw_cursors, rejects)

    def _convert(self, record: Any) -> tuple[dict[str, Any] | None, str]:
        if not isinstance(record, dict):
            return None, f"record is not a JSON object but {describe(record)}"
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
            except BadValue as exc:
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

"""The Delta Sharing server: an ASGI application (Starlette) over the recipients' outboxes.

Routes (``{prefix}`` is ``/delta-sharing``), as PROTOCOL.md defines them::

    GET  {prefix}/shares                                   list shares (paginated)
    GET  {prefix}/shares/{share}                           get share
    GET  {prefix}/shares/{share}/schemas                   list schemas (paginated)
    GET  {prefix}/shares/{share}/schemas/{schema}/tables   list tables (paginated)
    GET  {prefix}/shares/{share}/all-tables                list all tables (paginated)
    GET  {prefix}/shares/{share}/schemas/{schema}/tables/{table}/version    Delta-Table-Version
    HEAD {prefix}/shares/{share}/schemas/{schema}/tables/{table}            (deprecated form)
    GET  {prefix}/shares/{share}/schemas/{schema}/tables/{table}/metadata   protocol + metaData
    POST {prefix}/shares/{share}/schemas/{schema}/tables/{table}/query      snapshot / stream
    GET  {prefix}/shares/{share}/schemas/{schema}/tables/{table}/changes    change data feed
    GET  {prefix}/files/{token id}/{share}/{schema}/{table}/{version}/{path}  signed file URL

Every request but a file fetch needs ``Authorization: Bearer <token>``. Answers follow the
protocol: 401 for a missing, unknown, expired or revoked token; 403 when the recipient's
agreement is not in force (expired, revoked, not yet valid) or no longer covers what the
outbox holds, and for a bad or expired file URL; 404 for a share, schema or table that is
not the caller's — whether or not it exists, so a token learns nothing about other
recipients; 400 for a malformed request; always with the JSON body
``{"errorCode", "message"}``. Each check runs on every request: revoking a token or an
agreement takes effect on the next one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hrss_hub.share import protocol as p
from hrss_hub.share.params import change_range, file_id_hash, query_body, requested_version
from hrss_hub.share.predicates import may_match, parse_hint
from hrss_hub.share.service import Caller, ShareService
from hrss_hub.share.settings import PREFIX
from hrss_hub.share.shares import (
    AgreementsUnreadable,
    Share,
    SharedTable,
    agreement_state,
    conformance,
    in_scope,
)
from hrss_hub.share.tables import (
    DeltaTableReader,
    FileAction,
    Snapshot,
    TableHistoryError,
    parse_timestamp,
)

log = logging.getLogger("hrss_hub.share")
JSON = "application/json; charset=utf-8"


def _json(doc: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
                    media_type=JSON, headers=dict(headers or {}))


def _ndjson(lines: Sequence[Mapping[str, Any]], headers: Mapping[str, str],
            caps: p.Capabilities) -> Response:
    if caps.end_stream:
        lines = [*lines, p.end_stream_line(lines)]
    return Response(b"".join(p.line(x) for x in lines), media_type=p.NDJSON,
                    headers=dict(headers))


def _error(exc: p.ProtocolError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def create_app(service: ShareService) -> Starlette:
    """The ASGI application serving ``service``."""

    def handler(fn: Callable[..., Response], *, body: bool = False
                ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            data = await request.body() if body else b""
            try:
                response = await run_in_threadpool(fn, request, data)
            except p.ProtocolError as exc:
                response = _error(exc)
            except TableHistoryError as exc:
                response = _error(p.bad_request(str(exc)))
            except AgreementsUnreadable as exc:
                log.error("sharing agreements unreadable: %s", exc)
                response = _error(p.ProtocolError(
                    503, "TEMPORARILY_UNAVAILABLE",
                    "the sharing agreements cannot be read; every share is closed until "
                    "the hub operator fixes them"))
            except Exception:
                log.exception("share request failed: %s %s", request.method, request.url.path)
                response = _error(p.ProtocolError(500, "INTERNAL_ERROR",
                                                  "the server failed; it has been logged"))
            log.info("%s %s %d %.1fms", request.method, request.url.path,
                     response.status_code, (time.perf_counter() - started) * 1000)
            return response
        return endpoint

    s = service

    def list_shares(request: Request, _: bytes) -> Response:
        """The caller's share (one per agreement)."""
        caller = s.caller(request)
        items = [_share_json(caller.share)]
        return _json(_page(s, request, items, f"shares:{caller.share.name}"))

    def get_share(request: Request, _: bytes) -> Response:
        """The caller's share by name."""
        caller = s.caller(request)
        share = s.share_named(caller, request.path_params["share"], request.url.path)
        return _json({"share": _share_json(share)})

    def list_schemas(request: Request, _: bytes) -> Response:
        """The one schema, ``default``."""
        caller = s.caller(request)
        share = s.share_named(caller, request.path_params["share"], request.url.path)
        items = [{"name": "default", "share": share.name}]
        return _json(_page(s, request, items, f"schemas:{share.name}"))

    def list_tables(request: Request, _: bytes) -> Response:
        """The tables of ``default``: granted datasets with an outbox table."""
        caller = s.caller(request)
        share = s.share_named(caller, request.path_params["share"], request.url.path)
        schema = request.path_params["schema"]
        if schema.lower() != "default":
            raise s.denied(caller.token, p.not_found(f"schema {share.name}.{schema} not "
                                                      "found"), request.url.path)
        items = [_table_json(t) for t in s.registry.tables(share)]
        return _json(_page(s, request, items, f"tables:{share.name}.default"))

    def all_tables(request: Request, _: bytes) -> Response:
        """Every table of the share."""
        caller = s.caller(request)
        share = s.share_named(caller, request.path_params["share"], request.url.path)
        items = [_table_json(t) for t in s.registry.tables(share)]
        return _json(_page(s, request, items, f"all-tables:{share.name}"))

    def table_version(request: Request, _: bytes) -> Response:
        """``Delta-Table-Version``: the latest, or the first at/after a timestamp."""
        caller, table = _table(s, request)
        reader = s.reader(table)
        starting = request.query_params.get("startingTimestamp")
        if starting:
            version = reader.version_at_or_after(parse_timestamp(starting, "startingTimestamp"),
                                                 clamp_to_first=True)
        else:
            version = reader.latest_version()
        s.rules(caller, table, reader.snapshot(version), request.url.path)
        return Response(b"", headers={p.TABLE_VERSION_HEADER: str(version)})

    def metadata(request: Request, _: bytes) -> Response:
        """``protocol`` and ``metaData`` of a version."""
        caller, table = _table(s, request)
        caps = p.Capabilities.parse(request.headers.get(p.CAPABILITIES_HEADER))
        reader = s.reader(table)
        version = requested_version(reader, request.query_params.get("version"),
                                     request.query_params.get("timestamp"))
        snap = reader.snapshot(version)
        s.rules(caller, table, snap, request.url.path)
        fmt = caps.response_format(snap.metadata)
        lines = [p.protocol_line(snap.metadata, fmt),
                 p.metadata_line(snap.metadata, fmt, snapshot=snap,
                                 version=snap.version if version is not None else None)]
        return _ndjson(lines, {p.TABLE_VERSION_HEADER: str(snap.version), **caps.echo(fmt)},
                       caps)

    def query(request: Request, data: bytes) -> Response:
        """A snapshot (latest, by version or timestamp), or a stream from a version."""
        caller, table = _table(s, request)
        caps = p.Capabilities.parse(request.headers.get(p.CAPABILITIES_HEADER))
        extra_headers = file_id_hash(request)
        body = query_body(data)
        reader = s.reader(table)
        if body.get("startingVersion") is not None:
            return _streaming_query(s, caller, table, caps, body, extra_headers,
                                    request.url.path)
        version = requested_version(reader, body.get("version"), body.get("timestamp"))
        snap = reader.snapshot(version)
        rules = s.rules(caller, table, snap, request.url.path)
        fmt = caps.response_format(snap.metadata)
        hint = parse_hint(body.get("jsonPredicateHints"))
        files = [f for f in snap.files if in_scope(f, rules)
                 and may_match(hint, f.partition_values, snap.metadata.partition_columns)]
        files = _limit(files, body.get("limitHint"))
        time_travel = version is not None
        lines: list[Mapping[str, Any]] = [
            p.protocol_line(snap.metadata, fmt),
            p.metadata_line(snap.metadata, fmt, version=snap.version if time_travel else None,
                            snapshot=snap)]
        lines += _file_lines(s, caller, table, files, fmt, snapshot=snap,
                             with_version=time_travel)
        s.audit.query(recipient=caller.token.recipient, token_id=caller.token.id,
                      table=table.qualified, version=snap.version,
                      kind="time_travel" if time_travel else "snapshot",
                      response_format=fmt, files=[f.file_path for f in files],
                      extra={"limit_hint": body.get("limitHint"),
                             "predicate_hint": hint is not None})
        return _ndjson(lines, {p.TABLE_VERSION_HEADER: str(snap.version), **caps.echo(fmt),
                               **extra_headers}, caps)

    def changes(request: Request, _: bytes) -> Response:
        """The change data feed of a version (or timestamp) range."""
        caller, table = _table(s, request)
        caps = p.Capabilities.parse(request.headers.get(p.CAPABILITIES_HEADER))
        extra_headers = file_id_hash(request)
        reader = s.reader(table)
        q = request.query_params
        start, end = change_range(reader, q)
        latest_snap = reader.snapshot(end)
        if not latest_snap.metadata.change_data_feed:
            raise p.bad_request(f"{table.qualified} does not record a change data feed")
        rules = s.history_rules(caller, table, start, end, request.url.path)
        fmt = caps.response_format(latest_snap.metadata)
        files = [f for f in reader.change_files(start, end) if in_scope(f, rules)]
        # the metaData of a change feed names the version it starts at (delta-kernel
        # based clients file it under that version of the log they rebuild)
        lines: list[Mapping[str, Any]] = [p.protocol_line(latest_snap.metadata, fmt),
                                          p.metadata_line(latest_snap.metadata, fmt,
                                                          version=start)]
        if str(q.get("includeHistoricalMetadata", "")).lower() == "true":
            lines += _historical_metadata(reader, start, end, fmt)
        lines += _file_lines(s, caller, table, files, fmt)
        s.audit.query(recipient=caller.token.recipient, token_id=caller.token.id,
                      table=table.qualified, version=start, kind="changes",
                      response_format=fmt, files=[f.file_path for f in files],
                      extra={"starting_version": start, "ending_version": end})
        return _ndjson(lines, {p.TABLE_VERSION_HEADER: str(start), **caps.echo(fmt),
                               **extra_headers}, caps)

    def file(request: Request, _: bytes) -> Response:
        """One data file through its signed URL (ranged reads; the first GET audited)."""
        params = request.path_params
        grant = s.urls.verify(params["token"], params["share"], params["schema"],
                              params["table"], params["version"], params["path"],
                              request.query_params.get("e"), request.query_params.get("n"),
                              request.query_params.get("s"))
        token = s.tokens.get(grant.token_id)
        if token is None or token.status() != "active":
            raise p.forbidden("the token this file URL was issued to is no longer valid")
        share = s.registry.share_of(token.recipient)
        if share is None or share.name != grant.share or agreement_state(
                share.agreement, s.today()) != "active":
            raise s.denied(token, p.forbidden("the sharing agreement is no longer in force"),
                            request.url.path)
        table = s.registry.table(share, grant.schema, grant.table)
        if table is None:
            raise s.denied(token, p.forbidden("the table is no longer shared"),
                            request.url.path)
        reader = s.reader(table)
        snap = reader.snapshot(min(grant.version, reader.latest_version()))
        rules = conformance(table, reader, snap.version, snap.metadata.column_names,
                            snap.metadata.partition_columns)
        if not rules.ok:
            raise s.denied(token, p.forbidden(rules.reason or "not granted"),
                            request.url.path)
        target = _local_file(s, table, grant.path)
        if request.method == "GET":
            s.audit.download(recipient=token.recipient, token_id=token.id,
                             table=table.qualified, version=grant.version,
                             file=FileAction("add", grant.path, 0, {}).file_path,
                             url_signature=grant.signature, url_expires_ms=grant.expires_ms,
                             byte_range=request.headers.get("range"))
        return FileResponse(target, media_type="application/octet-stream",
                            headers={"Cache-Control": "no-store"})

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        code = "RESOURCE_DOES_NOT_EXIST" if status == 404 else "MALFORMED_REQUEST"
        detail = exc.detail if isinstance(exc, HTTPException) else "not found"
        return JSONResponse({"errorCode": code, "message": str(detail)}, status_code=status)

    t = PREFIX + "/shares/{share}/schemas/{schema}/tables/{table}"
    routes = [
        Route(PREFIX + "/shares", handler(list_shares), methods=["GET"]),
        Route(PREFIX + "/shares/{share}", handler(get_share), methods=["GET"]),
        Route(PREFIX + "/shares/{share}/schemas", handler(list_schemas), methods=["GET"]),
        Route(PREFIX + "/shares/{share}/schemas/{schema}/tables", handler(list_tables),
              methods=["GET"]),
        Route(PREFIX + "/shares/{share}/all-tables", handler(all_tables), methods=["GET"]),
        Route(t, handler(table_version), methods=["HEAD"]),
        Route(t + "/version", handler(table_version), methods=["GET"]),
        Route(t + "/metadata", handler(metadata), methods=["GET"]),
        Route(t + "/query", handler(query, body=True), methods=["POST"]),
        Route(t + "/changes", handler(changes), methods=["GET"]),
        Route(PREFIX + "/files/{token}/{share}/{schema}/{table}/{version}/{path:path}",
              handler(file), methods=["GET", "HEAD"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


# -- helpers of the routes -----------------------------------------------------------------


def _table(s: ShareService, request: Request) -> tuple[Caller, SharedTable]:
    caller = s.caller(request)
    pp = request.path_params
    return caller, s.table_named(caller, pp["share"], pp["schema"], pp["table"],
                                 request.url.path)


def _page(s: ShareService, request: Request, items: list[dict[str, Any]],
          listing: str) -> dict[str, Any]:
    return p.page(items, listing=listing, tokens=s.page_tokens,
                  max_results=request.query_params.get("maxResults"),
                  page_token=request.query_params.get("pageToken"))


def _share_json(share: Share) -> dict[str, Any]:
    a = share.agreement
    return {"name": share.name, "id": share.id, "displayName": a.recipient_name,
            "comment": a.purpose}


def _table_json(t: SharedTable) -> dict[str, Any]:
    return {"name": t.name, "schema": t.schema, "share": t.share, "shareId": t.share_id,
            "id": t.id}


def _limit(files: list[FileAction], limit: Any) -> list[FileAction]:
    """Enough files to hold ``limit`` rows by their statistics (a hint: never fewer)."""
    if limit is None:
        return files
    out: list[FileAction] = []
    rows = 0
    for f in files:
        if rows >= int(limit):
            break
        out.append(f)
        rows += f.num_records() or 0
    return out


def _file_lines(s: ShareService, caller: Caller, table: SharedTable,
                files: Sequence[FileAction], fmt: str, *, snapshot: Snapshot | None = None,
                with_version: bool = False) -> list[dict[str, Any]]:
    """File lines with fresh URLs: of ``snapshot`` (its version stamped on each file when
    the client time-travelled), or — without one — of a change feed, each file carrying
    the version and timestamp of its commit."""
    out = []
    for f in files:
        if "://" in f.path or f.file_path.startswith("/"):
            raise p.bad_request("the table references data files outside its folder",
                                "UNSUPPORTED_OPERATION")
        version = snapshot.version if snapshot is not None else int(f.version or 0)
        url, expires = s.urls.issue(table, caller.token.id, version, f)
        if snapshot is not None and with_version:
            f = replace(f, version=snapshot.version, timestamp=snapshot.timestamp)
        out.append(p.file_line(f, table_id=table.id, url=url, expires_ms=expires, fmt=fmt,
                               change=snapshot is None, with_version=with_version))
    return out


def _streaming_query(s: ShareService, caller: Caller, table: SharedTable,
                     caps: p.Capabilities, body: Mapping[str, Any],
                     extra_headers: Mapping[str, str], path: str) -> Response:
    """``startingVersion`` in a query: the add/remove files of each version since then
    (what Spark structured streaming reads), with historical metadata."""
    reader = s.reader(table)
    start = int(body["startingVersion"])
    end = body.get("endingVersion")
    commits = reader.commits(start, None if end is None else int(end))
    last = commits[-1].version if commits else start
    rules = s.history_rules(caller, table, start, last, path)
    snap = reader.snapshot(last)
    fmt = caps.response_format(snap.metadata)
    files = [a for c in commits for a in c.actions
             if a.kind in ("add", "remove") and a.data_change and in_scope(a, rules)]
    lines: list[Mapping[str, Any]] = [p.protocol_line(snap.metadata, fmt),
                                      p.metadata_line(snap.metadata, fmt, version=start)]
    lines += _historical_metadata(reader, start + 1, last, fmt)
    lines += _file_lines(s, caller, table, files, fmt)
    s.audit.query(recipient=caller.token.recipient, token_id=caller.token.id,
                  table=table.qualified, version=start, kind="stream",
                  response_format=fmt, files=[f.file_path for f in files],
                  extra={"starting_version": start, "ending_version": last})
    return _ndjson(lines, {p.TABLE_VERSION_HEADER: str(start), **caps.echo(fmt),
                           **extra_headers}, caps)


def _historical_metadata(reader: DeltaTableReader, start: int, end: int,
                         fmt: str) -> list[dict[str, Any]]:
    out = []
    for commit in reader.commits(start, end) if end >= start else []:
        if commit.raw_metadata is None:
            continue
        meta = reader.snapshot(commit.version).metadata
        out.append(p.metadata_line(meta, fmt, version=commit.version))
    return out


def _local_file(s: ShareService, table: SharedTable, log_path: str) -> Path:
    if s.registry.outbox.is_s3:  # S3 files are fetched from S3 with presigned URLs
        raise p.not_found("files of this table are not served here")
    rel = FileAction("add", log_path, 0, {}).file_path
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or any(x in ("", ".", "..") for x in parts):
        raise p.forbidden("this file URL does not name a file of the table")
    root = Path(s.registry.outbox.store.path(table.rel)).resolve()
    target = (root / rel).resolve()
    if root not in target.parents or not target.is_file():
        raise p.not_found("the file is no longer in the table (vacuumed?)")
    return target


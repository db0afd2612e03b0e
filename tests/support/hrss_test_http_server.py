"""A real, scriptable HTTP server for REST-connector tests, the contract suite and the demo.

It serves lists of JSON records (one list per route) with a chosen pagination style,
optional authentication and a *fault script*: the next matching requests get a 5xx, a 429
with ``Retry-After``, a slow answer, a truncated or invalid body, or a reset connection.
Only the standard library is used, so the module can move into the demo package as is.

Example::

    with ApiServer(page_style="page", auth=("bearer", "s3cret")) as server:
        server.add_route("/jobseekers", [{"id": "1", "updatedAt": "2024-01-01"}])
        server.script(Fault.error(503), Fault.error(503))
        ...  # point base_url at server.url
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

PAGE_STYLES = ("page", "offset", "cursor", "link", "next_url", "none")


@dataclass
class Fault:
    """One scripted misbehaviour, applied to the next ``times`` requests that match.

    ``match`` selects requests by query parameters (``{"page": "3"}``), ``path`` by route.
    """

    kind: str  # status | sleep | truncate | invalid_json | reset
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    times: int = 1
    match: dict[str, str] = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def error(cls, status: int = 500, *, retry_after: str | None = None, times: int = 1,
              **match: str) -> Fault:
        """Answer with ``status`` (and a ``Retry-After`` header if given)."""
        return cls("status", status=status, retry_after=retry_after, times=times, match=match)

    @classmethod
    def slow(cls, seconds: float, *, times: int = 1, **match: str) -> Fault:
        """Sleep ``seconds`` before answering normally (to trigger client timeouts)."""
        return cls("sleep", seconds=seconds, times=times, match=match)

    @classmethod
    def truncated(cls, *, times: int = 1, **match: str) -> Fault:
        """Promise the full Content-Length, send half the body, close the connection."""
        return cls("truncate", times=times, match=match)

    @classmethod
    def invalid_json(cls, *, times: int = 1, **match: str) -> Fault:
        """A complete HTTP response whose body is half a JSON document."""
        return cls("invalid_json", times=times, match=match)

    @classmethod
    def reset(cls, *, times: int = 1, **match: str) -> Fault:
        """Close the connection with a TCP RST before answering."""
        return cls("reset", times=times, match=match)

    def applies(self, path: str, query: Mapping[str, str]) -> bool:
        """Whether this fault is meant for a request to ``path`` with ``query``."""
        if self.times <= 0 or (self.path is not None and self.path != path):
            return False
        return all(query.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class Logged:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


class ApiServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 (port 0 = any free port) in a daemon thread.

    Args:
        page_style: page | offset | cursor | link | next_url | none.
        auth: ``None``, ``("bearer", token)``, ``("basic", user, password)``,
            ``("api_key", header, key)`` or ``("api_key_param", param, key)``.
        records_path: dotted path where the record list goes in the body ("" = the body).
        cursor_field / since_param: records with ``cursor_field >= since`` are served,
            sorted by ``cursor_field`` (an inclusive lower bound, like real APIs).
        max_size: the server caps page sizes at this (like real APIs do).
        next_url_path: where ``next_url`` paging puts the next page's (relative) URL.
        totals_path: if set, where the body says how many records and pages there are
            (``<totals_path>.records`` / ``.pages``), as many APIs do.
    """

    def __init__(self, *, page_style: str = "page", auth: tuple[str, ...] | None = None,
                 records_path: str = "data.items", cursor_path: str = "data.next",
                 base_path: str = "/api", since_param: str = "updatedSince",
                 cursor_field: str | None = "updatedAt", page_param: str = "page",
                 size_param: str = "size", offset_param: str = "offset",
                 limit_param: str = "limit", cursor_param: str = "cursor",
                 default_size: int = 100, max_size: int | None = None,
                 next_url_path: str = "links.next", totals_path: str | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        if page_style not in PAGE_STYLES:
            raise ValueError(f"page_style must be one of {PAGE_STYLES}")
        self.page_style = page_style
        self.auth = auth
        self.records_path = records_path
        self.cursor_path = cursor_path
        self.base_path = base_path.rstrip("/")
        self.since_param = since_param
        self.cursor_field = cursor_field
        self.page_param, self.size_param = page_param, size_param
        self.offset_param, self.limit_param = offset_param, limit_param
        self.cursor_param = cursor_param
        self.default_size = default_size
        self.max_size = max_size
        self.next_url_path = next_url_path
        self.totals_path = totals_path
        self.routes: dict[str, list[dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.requests: list[Logged] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to put in ``connection.base_url``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.base_path}"

    def start(self) -> ApiServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True,
                                        name="ApiServer")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------

    def add_route(self, path: str, records: list[dict[str, Any]]) -> None:
        """Serve ``records`` at ``base_path + path``."""
        with self._lock:
            self.routes["/" + path.strip("/")] = records

    def script(self, *faults: Fault) -> None:
        """Append faults; each request consumes the first fault that applies to it."""
        with self._lock:
            self.faults.extend(faults)

    def take_fault(self, path: str, query: Mapping[str, str]) -> Fault | None:
        """The fault for this request, if any (consumed)."""
        with self._lock:
            for fault in self.faults:
                if fault.applies(path, query):
                    fault.times -= 1
                    return fault
        return None

    def authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Whether a request carries the configured credentials."""
        if not self.auth:
            return True
        kind = self.auth[0]
        if kind == "bearer":
            return headers.get("authorization") == f"Bearer {self.auth[1]}"
        if kind == "basic":
            token = base64.b64encode(f"{self.auth[1]}:{self.auth[2]}".encode()).decode()
            return headers.get("authorization") == f"Basic {token}"
        if kind == "api_key":
            return headers.get(self.auth[1].lower()) == self.auth[2]
        if kind == "api_key_param":
            return query.get(self.auth[1]) == self.auth[2]
        raise ValueError(f"unknown auth kind {kind!r}")

    # -- serving --------------------------------------------------------------------------

    def page(self, route: str, query: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        """The body and extra headers for one page of ``route``."""
        with self._lock:
            records = list(self.routes[route])
        since = query.get(self.since_param)
        if self.cursor_field:
            if since is not None:
                records = [r for r in records if str(r.get(self.cursor_field)) >= since]
            records.sort(key=lambda r: str(r.get(self.cursor_field, "")))
        style, headers, next_token = self.page_style, {}, None
        next_url: str | None = None
        n = 0

        def size(param: str) -> int:
            wanted = int(query.get(param, self.default_size))
            return min(wanted, self.max_size) if self.max_size else wanted

        if style == "page":
            n = size(self.size_param)
            start = (int(query.get(self.page_param, "1")) - 1) * n
            items = records[start:start + n]
        elif style == "offset":
            n = size(self.limit_param)
            start = int(query.get(self.offset_param, "0"))
            items = records[start:start + n]
        elif style == "cursor":
            n = self.default_size
            token = query.get(self.cursor_param)
            start = int(base64.urlsafe_b64decode(token).decode()[2:]) if token else 0
            items = records[start:start + n]
            if start + n < len(records):
                next_token = base64.urlsafe_b64encode(f"o:{start + n}".encode()).decode()
        elif style in ("link", "next_url"):
            n = size(self.size_param)
            page = int(query.get(self.page_param, "1"))
            items = records[(page - 1) * n:page * n]
            if page * n < len(records):
                nxt = {**query, self.page_param: str(page + 1), self.size_param: str(n)}
                # a relative reference, as many servers send: the client must resolve it
                next_url = f"{self.base_path}{route}?{urlencode(nxt)}"
                if style == "link":
                    headers["Link"] = (f'<{next_url}>; rel="next", '
                                       f'<{self.base_path}{route}>; rel="first"')
        else:
            items = records
        body: Any = items
        if self.records_path:
            body = {}
            _put(body, self.records_path, items)
            if style == "cursor":
                _put(body, self.cursor_path, next_token)
            if style == "next_url":
                _put(body, self.next_url_path, next_url)
            if self.totals_path:
                _put(body, f"{self.totals_path}.records", len(records))
                _put(body, f"{self.totals_path}.pages", -(-len(records) // max(n, 1)))
            body.setdefault("code", 0)
        return body, headers


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # scripted resets and client timeouts break sockets on purpose


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    node = body
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _handler_class(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like real servers: resets matter
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            route = parts.path[len(server.base_path):] if parts.path.startswith(
                server.base_path) else parts.path
            with server._lock:
                server.requests.append(Logged(route, query, headers, time.monotonic()))
            fault = server.take_fault(route, query)
            if fault and fault.kind == "reset":
                # SO_LINGER 0: close() sends RST instead of FIN
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                self.request.close()
                self.close_connection = True
                return
            if fault and fault.kind == "sleep":
                time.sleep(fault.seconds)
            if fault and fault.kind == "status":
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._send(fault.status, json.dumps({"error": f"scripted {fault.status}"}
                                                    ).encode(), extra)
                return
            if not server.authorized(headers, query):
                self._send(401, b'{"error": "invalid credentials"}',
                           {"WWW-Authenticate": "Bearer"})
                return
            if route not in server.routes:
                self._send(404, json.dumps({"error": f"no route {route}"}).encode())
                return
            body_obj, extra = server.page(route, query)
            body = json.dumps(body_obj, ensure_ascii=False).encode()
            if fault and fault.kind == "truncate":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.request.shutdown(socket.SHUT_RDWR)
                return
            if fault and fault.kind == "invalid_json":
                body = body[: len(body) // 2]
            # the client may have timed out and gone away: expected in timeout tests
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(200, body, extra)

    return Handler


def records(n: int, *, start: int = 1, day: str = "2024-05-01") -> list[dict[str, Any]]:
    """``n`` simple job-seeker records with distinct ``id`` and increasing ``updatedAt``."""
    return [{"id": f"P{i:04d}", "name": f"求职者{i}", "age": 20 + i % 40,
             "updatedAt": f"{day}T08:{i // 60 % 60:02d}:{i % 60:02d}"}
            for i in range(start, start + n)]

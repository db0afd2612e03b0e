"""The demo employment-services REST API (公共就业服务系统).

A small ``ThreadingHTTPServer`` over ``sources/employment/<stream>_*.json`` of a demo
workspace. It behaves like the vendor APIs the hub meets in practice:

* ``GET /api/persons`` and ``GET /api/registrations``, bearer-token auth (401 without it);
* page pagination ``?page=1&size=100`` (size ≤ 1000), records under ``data.items`` and the
  match count under ``data.total``;
* ``updatedSince=<ISO timestamp>`` keeps records with ``updatedAt >= updatedSince``;
  results are ordered by ``(updatedAt, id)``, so paging is stable;
* ``GET /api/health`` answers without auth (for ``connectors check``).

The data files are re-read when they change (``demo append`` adds a file), so a server
left running sees appended records.
"""

from __future__ import annotations

import bisect
import contextlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hrss_hub.demo.generator import TOKEN_ENV, URL_ENV, demo_token

STREAMS = ("persons", "registrations")
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


class _Store:
    """The records of each stream, sorted by (updatedAt, id), reloaded when files change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] = ()
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._keys: dict[str, list[str]] = {}

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        files = sorted(self.folder.glob("*.json"))
        return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)

    def stream(self, name: str) -> tuple[list[dict[str, Any]], list[str]]:
        """(records, their updatedAt values) of one stream, both in (updatedAt, id) order."""
        with self._lock:
            sig = self._current_signature()
            if sig != self._signature:
                self._load()
                self._signature = sig
            return self._records.get(name, []), self._keys.get(name, [])

    def _load(self) -> None:
        for name in STREAMS:
            rows: list[dict[str, Any]] = []
            for f in sorted(self.folder.glob(f"{name}_*.json")):
                rows.extend(json.loads(f.read_text(encoding="utf-8")))
            rows.sort(key=lambda r: (str(r.get("updatedAt") or ""), str(r.get("id") or "")))
            self._records[name] = rows
            self._keys[name] = [str(r.get("updatedAt") or "") for r in rows]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the hub's own logs are what a demo user watches."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="employment"')
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, {"code": int(status), "message": message, "data": None})

    def do_GET(self) -> None:
        """Serve one request (see the module docstring for the API)."""
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["api", "health"]:
            self._send(HTTPStatus.OK, {"code": 0, "message": "ok", "data": {"status": "up"}})
            return
        if len(parts) != 2 or parts[0] != "api" or parts[1] not in STREAMS:
            self._error(HTTPStatus.NOT_FOUND, f"no such resource: {url.path}")
            return
        auth = self.headers.get("Authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self.server.token.encode()):
            self._error(HTTPStatus.UNAUTHORIZED, "missing or invalid bearer token")
            return
        query = parse_qs(url.query)
        try:
            page = int(query.get("page", ["1"])[0])
            size = int(query.get("size", [str(DEFAULT_PAGE_SIZE)])[0])
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "page and size must be integers")
            return
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            self._error(HTTPStatus.BAD_REQUEST, f"page must be >= 1 and size 1..{MAX_PAGE_SIZE}")
            return
        records, keys = self.server.store.stream(parts[1])
        first = 0
        since = (query.get("updatedSince") or [""])[0].strip()
        if since:
            # timestamps are zero-padded ISO text, so text order is time order
            first = bisect.bisect_left(keys, since.replace(" ", "T"))
        total = len(records) - first
        start = first + (page - 1) * size
        items = records[start:min(start + size, len(records))] if start < len(records) else []
        self._send(HTTPStatus.OK, {"code": 0, "message": "success",
                                   "data": {"items": items, "total": total, "page": page,
                                            "size": size}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: _Store, token: str) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.token = token


class DemoServer:
    """A running demo API. ``url`` is the base URL (…/api); ``stop()`` shuts it down."""

    def __init__(self, workspace: Path, port: int = 0, token: str | None = None,
                 host: str = "127.0.0.1") -> None:
        self.workspace = Path(workspace)
        self.token = token or os.environ.get(TOKEN_ENV) or demo_token(self.workspace)
        self._httpd = _Server((host, port), _Store(self.workspace / "sources" / "employment"),
                              self.token)
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://{host}:{self.port}/api"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name=f"hrss-demo-api:{self.port}", daemon=True)
        self._started = False

    def start(self) -> DemoServer:
        """Start serving in a background thread (idempotent)."""
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._started:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._started = False
        self._httpd.server_close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


@contextlib.contextmanager
def serving(workspace: Path) -> Iterator[DemoServer]:
    """The workspace's demo API running, with ``$HRSS_DEMO_API_TOKEN`` / ``$HRSS_DEMO_API_URL``
    pointing at it (what the workspace's REST connector reads) while the block runs.

    On exit the server stops and both variables get their previous values back: a
    variable left behind would point a later server of *another* workspace at this one's
    token (``DemoServer`` prefers the variable to the workspace's ``.env``).
    """
    token = demo_token(workspace)
    server = start_server(workspace, port=0, token=token)
    saved = {k: os.environ.get(k) for k in (TOKEN_ENV, URL_ENV)}
    os.environ[TOKEN_ENV], os.environ[URL_ENV] = token, server.url
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_server(workspace: Path, port: int = 0, token: str | None = None) -> DemoServer:
    """Start the demo API of ``workspace`` on ``port`` (0 = any free port).

    The token is ``token``, else ``$HRSS_DEMO_API_TOKEN``, else the workspace's ``.env``.
    """
    return DemoServer(workspace, port, token).start()

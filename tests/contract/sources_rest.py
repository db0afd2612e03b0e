"""Contract sources for ``kind: rest``: the real local HTTP server of ``tests/support``.

One source per pagination style (page, offset, body cursor, RFC 8288 ``Link``, next URL in
the body), each incremental by ``updatedAt`` with bearer auth; batches (4 rows)
deliberately straddle pages (3 records).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hrss_test_http_server
import pytest

from hrss_hub.connectors.config import parse_system
from hrss_hub.connectors.contract import Source, source_factory
from hrss_hub.connectors.registry import create_connector

BATCH = 4
TOKEN = "contract-rest-token-5150"


def rest_source(request: pytest.FixtureRequest, tmp_path: Path,
                pagination: dict[str, Any], style: str, *,
                totals: bool = False) -> Iterator[Source]:
    """17 records served 3 per page; ``append`` adds records with later ``updatedAt``.
    With ``totals`` the bodies say how many records match (``meta.records``) and the
    stream's ``records_total_path`` points there (its row estimate is then exact)."""
    mod = hrss_test_http_server
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("CONTRACT_REST_TOKEN", TOKEN)
    data: list[dict[str, Any]] = mod.records(17)
    if totals:
        pagination = {**pagination, "records_total_path": "meta.records"}
    with mod.ApiServer(page_style=style, auth=("bearer", TOKEN), default_size=3,
                       totals_path="meta" if totals else None) as server:
        server.add_route("/jobseekers", data)

        def append(n: int) -> None:
            data.extend(mod.records(n, start=len(data) + 1))

        raw = {
            "kind": "rest", "batch_size": BATCH,
            "connection": {"base_url": server.url, "max_retries": 2, "backoff_seconds": 0.01,
                           "auth": {"type": "bearer", "token_env": "CONTRACT_REST_TOKEN"}},
            "streams": [{
                "name": "jobseekers", "path": "/jobseekers", "records_path": "data.items",
                "pagination": pagination, "primary_key": ["id"],
                "incremental": {"param": "updatedSince", "cursor_field": "updatedAt"},
                "schema": {"id": "string", "name": "string", "age": "integer",
                           "updatedAt": "timestamp"},
            }],
        }
        cfg = parse_system(raw, tmp_path / "employment_api.yaml", tmp_path)
        yield Source(create_connector(cfg), "jobseekers", ["id"], BATCH,
                     lambda: [(r["id"],) for r in data], append, estimate_exact=totals)


@source_factory("rest-page", "rest")
def rest_page(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from rest_source(request, tmp_path, {"type": "page", "size": 3}, "page",
                           totals=True)


@source_factory("rest-link", "rest")
def rest_link(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from rest_source(request, tmp_path, {"type": "link"}, "link")


@source_factory("rest-offset", "rest")
def rest_offset(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from rest_source(request, tmp_path, {"type": "offset", "size": 3}, "offset",
                           totals=True)


@source_factory("rest-cursor", "rest")
def rest_cursor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from rest_source(request, tmp_path, {"type": "cursor", "cursor_path": "data.next"},
                           "cursor", totals=True)


@source_factory("rest-next-url", "rest")
def rest_next_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from rest_source(request, tmp_path,
                           {"type": "next_url", "next_url_path": "links.next"}, "next_url")

"""Pagination styles as classes in a registry: pyarrow-free options, a new style is a class."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from hrss_test_http_server import ApiServer

from hrss_hub.connectors import create_connector, parse_system
from hrss_hub.connectors import paginators as pg
from hrss_hub.errors import ConfigError


def test_options_models_import_without_pyarrow() -> None:
    probe = ("import sys, hrss_hub.connectors.paginators as p\n"
             "assert 'pyarrow' not in sys.modules and 'requests' not in sys.modules\n"
             "print(p.styles())")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "'cursor', 'link', 'next_url', 'none', 'offset', 'page'" in result.stdout


def test_the_tagged_union_validates_every_builtin_style() -> None:
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(pg.BuiltinPagination)
    parsed = adapter.validate_python({"type": "cursor", "cursor_path": "data.next"})
    assert isinstance(parsed, pg.CursorOptions) and parsed.cursor_param == "cursor"
    assert {m.model_fields["type"].default for m in (
        pg.SinglePageOptions, pg.PageNumberOptions, pg.OffsetOptions, pg.CursorOptions,
        pg.LinkHeaderOptions, pg.NextUrlOptions)} == set(pg.styles())


class PerPageOptions(pg.PaginationOptions):
    """``{type: per_page, per_page: 3}``: ``?p=N&per_page=S`` from page 1."""

    type: Literal["per_page"] = "per_page"
    per_page: int = 3


class PerPagePaginator(pg.Paginator):
    """A style the hub does not ship: page numbers under other parameter names."""

    style = "per_page"
    Options = PerPageOptions
    options: PerPageOptions

    def __init__(self, options: pg.PaginationOptions) -> None:
        super().__init__(options)
        self.page = 1

    def resume(self, request: pg.PageRequest) -> None:
        super().resume(request)
        self.page = int(request.params.get("page", "1"))

    def init_request(self, request: pg.PageRequest) -> None:
        self.update_request(request)

    def update_state(self, response: pg.PageResponse, data: Sequence[Any]) -> None:
        if not data:
            self._stop()
        self.page += 1

    def update_request(self, request: pg.PageRequest) -> None:
        request.params.update({"page": str(self.page), "size": str(self.options.per_page)})


@pytest.fixture
def per_page_style() -> Iterator[None]:
    pg.register_paginator(PerPagePaginator)
    yield
    del pg._PAGINATORS["per_page"]


def test_a_new_style_is_one_registered_class(per_page_style: None, tmp_path: Path) -> None:
    with ApiServer(page_style="page", default_size=3, cursor_field=None) as srv:
        srv.add_route("/jobseekers", [{"id": f"P{i}", "n": i} for i in range(8)])
        cfg = parse_system({"kind": "rest", "batch_size": 2, "connection": {"base_url": srv.url},
                            "streams": [{"name": "s", "path": "/jobseekers",
                                         "records_path": "data.items",
                                         "pagination": {"type": "per_page", "per_page": 3},
                                         "primary_key": ["id"],
                                         "schema": {"id": "string", "n": "integer"}}]},
                           tmp_path / "api.yaml", tmp_path)
        connector = create_connector(cfg)
        chunks = list(connector.read("s"))
        everything = [r["id"] for c in chunks for r in c.batch.to_pylist()]
        assert everything == [f"P{i}" for i in range(8)]
        # its position is resumable like a built-in's
        resumed = [r["id"] for c in connector.read("s", chunks[1].state)
                   for r in c.batch.to_pylist()]
        assert everything[:4] + resumed == everything
    with pytest.raises(ConfigError) as info:
        pg.parse_pagination({"type": "per_pag"}, "streams[0].pagination")
    assert "did you mean 'per_page'?" in str(info.value)


def test_page_requests_round_trip_as_state() -> None:
    request = pg.PageRequest({"page": "3"}, "https://api.example/x?page=3")
    assert pg.PageRequest.from_json(request.to_json()) == request
    assert pg.PageRequest.from_json({"params": {"page": 2}}) == pg.PageRequest({"page": "2"})

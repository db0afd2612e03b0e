"""``kind: rest`` against a real local HTTP server: pagination, auth, schema, incremental."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hrss_test_http_server import ApiServer, records

from hrss_hub.connectors.base import Chunk, Connector
from hrss_hub.connectors.config import parse_system
from hrss_hub.connectors.registry import create_connector, kinds
from hrss_hub.connectors.rest import RestConnector
from hrss_hub.errors import ConfigError, FatalSourceError

TOKEN = "tok-8f3a9c1e-secret"
SCHEMA = {"id": "string", "name": "string", "age": "integer", "updatedAt": "string"}


def make(server: ApiServer, tmp_path: Path, *, stream: dict[str, Any] | None = None,
         connection: dict[str, Any] | None = None, batch_size: int = 10_000) -> RestConnector:
    """A connector for ``server`` built through the real YAML validation."""
    raw = {
        "system": "emp_api", "kind": "rest", "batch_size": batch_size,
        "connection": {"base_url": server.url, "max_retries": 3, "backoff_seconds": 0.01,
                       "timeout_seconds": 2, **(connection or {})},
        "streams": [{
            "name": "jobseekers", "path": "/jobseekers", "records_path": "data.items",
            "pagination": {"type": "page", "size": 3}, "primary_key": ["id"],
            "schema": SCHEMA, **(stream or {}),
        }],
    }
    cfg = parse_system(raw, tmp_path / "connectors" / "emp_api.yaml", tmp_path)
    connector = create_connector(cfg)
    assert isinstance(connector, RestConnector)
    return connector


def read_all(connector: Connector, state: dict[str, Any] | None = None) -> list[Chunk]:
    return list(connector.read("jobseekers", state))


def ids(chunks: list[Chunk]) -> list[str]:
    return [i for c in chunks for i in c.batch.column("id").to_pylist()]


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with ApiServer() as srv:
        srv.add_route("/jobseekers", records(7))
        yield srv


def test_registered_as_rest_kind() -> None:
    assert "rest" in kinds()


@pytest.mark.parametrize(("style", "pagination", "first_location"), [
    ("page", {"type": "page", "size": 3}, "GET /jobseekers?page=1&size=3#1"),
    ("offset", {"type": "offset", "size": 3}, "GET /jobseekers?offset=0&limit=3#1"),
    ("cursor", {"type": "cursor", "cursor_path": "data.next", "cursor_param": "cursor"},
     "GET /jobseekers#1"),
    ("link", {"type": "link"}, "GET /jobseekers#1"),
    ("next_url", {"type": "next_url", "next_url_path": "links.next"}, "GET /jobseekers#1"),
])
def test_every_pagination_style_reads_every_record_once(
        tmp_path: Path, style: str, pagination: dict[str, Any], first_location: str) -> None:
    with ApiServer(page_style=style, default_size=3) as srv:
        srv.add_route("/jobseekers", records(7))
        connector = make(srv, tmp_path, stream={"pagination": pagination})
        chunks = read_all(connector)
    assert ids(chunks) == [f"P{i:04d}" for i in range(1, 8)]
    locations = [loc for c in chunks for loc in c.batch.column("_location").to_pylist()]
    assert locations[0] == first_location
    assert len(set(locations)) == 7
    if style == "page":
        assert locations[6] == "GET /jobseekers?page=3&size=3#1"
    if style in ("link", "next_url"):  # the relative reference was resolved and followed
        assert locations[3] == "GET /jobseekers?page=2&size=3#1"


def test_short_pages_do_not_end_the_stream(tmp_path: Path) -> None:
    # the server caps the page size at 2 although we ask for 3: only an empty page ends it
    with ApiServer(max_size=2) as srv:
        srv.add_route("/jobseekers", records(7))
        chunks = read_all(make(srv, tmp_path))
    assert len(ids(chunks)) == 7


def test_body_is_the_record_list_without_pagination(tmp_path: Path) -> None:
    with ApiServer(page_style="none", records_path="") as srv:
        srv.add_route("/jobseekers", records(4))
        connector = make(srv, tmp_path, stream={"records_path": "", "pagination": None})
        chunks = read_all(connector)
    assert ids(chunks) == ["P0001", "P0002", "P0003", "P0004"]
    assert chunks[-1].batch.column("_location")[0].as_py() == "GET /jobseekers#1"


def test_discover_maps_declared_types_to_arrow(server: ApiServer, tmp_path: Path) -> None:
    connector = make(server, tmp_path, stream={"schema": {
        "id": "string", "n": "integer", "x": "number", "ok": "boolean", "born": "date",
        "updatedAt": "timestamp"}})
    schema = connector.discover()["jobseekers"]
    assert schema.names == ["id", "n", "x", "ok", "born", "updatedAt", "_location"]
    assert schema.field("n").type == pa.int64()
    assert schema.field("x").type == pa.float64()
    assert schema.field("ok").type == pa.bool_()
    assert schema.field("born").type == pa.date32()
    assert schema.field("updatedAt").type == pa.timestamp("us")
    assert not schema.field("id").nullable  # primary key
    chunks = read_all(connector)
    assert all(c.batch.schema == schema for c in chunks)


def test_batches_are_bounded_and_every_state_resumes_exactly(server: ApiServer,
                                                             tmp_path: Path) -> None:
    connector = make(server, tmp_path, batch_size=2)
    chunks = read_all(connector)
    assert all(c.batch.num_rows <= 2 for c in chunks)
    everything = ids(chunks)
    assert everything == [f"P{i:04d}" for i in range(1, 8)]
    for k, chunk in enumerate(chunks[:-1]):  # crash after chunk k, resume from its state
        rest = ids(read_all(connector, chunk.state))
        assert ids(chunks[:k + 1]) + rest == everything
    # a stream without a cursor is a full refresh: once complete, the next run starts over
    assert chunks[-1].state == {}


def test_schema_enforcement_casts_or_rejects_with_location(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    rows = [
        {"id": "A1", "name": 123, "age": "42", "updatedAt": "2024-01-01"},   # casts
        {"name": "no id", "age": 30, "updatedAt": "2024-01-02"},             # missing pk
        {"id": "A3", "name": "x", "age": "abc", "updatedAt": "2024-01-03"},  # wrong type
        {"id": "A4", "name": "y", "age": 3.5, "updatedAt": "2024-01-04"},    # not integer
        "not an object",
        {"id": "A6", "name": "z", "age": None, "updatedAt": "2024-01-06", "extra": 1,
         "other": 2},                                                        # extra fields
        {"id": "A7", "name": "w", "age": 7, "updatedAt": "2024-01-07", "extra": 1},
    ]
    with ApiServer(page_style="none", cursor_field=None) as srv:
        srv.add_route("/jobseekers", rows)
        connector = make(srv, tmp_path, stream={"pagination": None})
        with caplog.at_level(logging.WARNING, logger="hrss_hub.connectors.rest"):
            chunks = read_all(connector)
    batch = pa.Table.from_batches([c.batch for c in chunks])
    assert batch.column("id").to_pylist() == ["A1", "A6", "A7"]
    assert batch.column("name").to_pylist()[0] == "123"
    assert batch.column("age").to_pylist() == [42, None, 7]
    rejects = {r.location: r.reason for c in chunks for r in c.rejects}
    assert set(rejects) == {"GET /jobseekers#2", "GET /jobseekers#3", "GET /jobseekers#4",
                            "GET /jobseekers#5"}
    assert "missing required field 'id'" in rejects["GET /jobseekers#2"]
    assert "field 'age': expected integer, got \"abc\"" in rejects["GET /jobseekers#3"]
    assert "not a JSON object" in rejects["GET /jobseekers#5"]
    assert all(r.raw for c in chunks for r in c.rejects)
    first_warnings = [r for r in caplog.records if "undeclared field(s)" in r.getMessage()]
    assert len(first_warnings) == 1 and "extra, other" in first_warnings[0].getMessage()
    assert any("2 record(s) had undeclared fields" in r.getMessage() for r in caplog.records)


def test_incremental_sends_watermark_and_dedups_the_boundary(tmp_path: Path) -> None:
    inc = {"incremental": {"param": "updatedSince", "cursor_field": "updatedAt"}}
    with ApiServer() as srv:
        data = records(5)
        srv.add_route("/jobseekers", data)
        connector = make(srv, tmp_path, stream=inc)
        first = read_all(connector)
        state = first[-1].state
        assert state == {"cursor": data[-1]["updatedAt"], "boundary_keys": ["P0005"]}
        assert "updatedSince" not in srv.requests[0].query

        # nothing new: no rows, no chunk (the state stays as it is)
        assert read_all(connector, state) == []
        assert srv.requests[-1].query["updatedSince"] == data[-1]["updatedAt"]

        # a record updated at the same instant as the watermark, and a later one
        same = {"id": "P0100", "name": "same", "age": 1, "updatedAt": data[-1]["updatedAt"]}
        later = {"id": "P0101", "name": "later", "age": 2, "updatedAt": "2024-06-01T00:00:00"}
        data.extend([same, later])
        second = read_all(connector, state)
        assert ids(second) == ["P0100", "P0101"]
        assert second[-1].state == {"cursor": "2024-06-01T00:00:00",
                                    "boundary_keys": ["P0101"]}
        # a state of the first version (keys as lists of parts) resumes the same way
        legacy = {"cursor": state["cursor"], "boundary_keys": [["P0005"]]}
        assert ids(read_all(connector, legacy)) == ["P0100", "P0101"]


def test_incremental_crash_anywhere_then_resume_gives_no_dups_no_gaps(tmp_path: Path) -> None:
    inc = {"incremental": {"param": "updatedSince", "cursor_field": "updatedAt"}}
    with ApiServer() as srv:
        data = records(8)
        # two records share the watermark instant, to exercise boundary keys
        data[7]["updatedAt"] = data[6]["updatedAt"]
        srv.add_route("/jobseekers", data)
        connector = make(srv, tmp_path, stream=inc, batch_size=2)
        clean = read_all(connector)
        everything = ids(clean)
        assert sorted(everything) == sorted(r["id"] for r in data)
        final = clean[-1].state
        assert final["boundary_keys"] == ["P0007", "P0008"]
        for k, chunk in enumerate(clean[:-1]):
            assert "window" in chunk.state  # the watermark moves only when the window ends
            assert chunk.state.get("cursor") is None
            resumed = read_all(connector, chunk.state)
            assert ids(clean[:k + 1]) + ids(resumed) == everything
            assert resumed[-1].state == final
        # a resumed page is re-requested with the same updatedSince as the window start
        second_run = make(srv, tmp_path, stream=inc, batch_size=2)
        data.append({"id": "P0200", "name": "n", "age": 5, "updatedAt": "2024-07-01T00:00:00"})
        mid = next(iter(second_run.read("jobseekers", final)))
        assert ids([mid]) == ["P0200"]
        assert mid.state["cursor"] == "2024-07-01T00:00:00"


def test_rate_limit_spaces_requests(tmp_path: Path) -> None:
    with ApiServer() as srv:
        srv.add_route("/jobseekers", records(15))
        connector = make(srv, tmp_path, connection={"max_requests_per_second": 20})
        start = time.monotonic()
        assert len(ids(read_all(connector))) == 15
        elapsed = time.monotonic() - start
        # 6 requests (5 pages + the empty one) at 20/s: at least 5 intervals of 50 ms
        assert len(srv.requests) == 6
        gaps = [b.at - a.at for a, b in zip(srv.requests, srv.requests[1:], strict=False)]
        assert min(gaps) >= 0.04 and elapsed >= 0.24


# -- auth ----------------------------------------------------------------------------------

def assert_secret_free(exc: BaseException, *secrets: str) -> None:
    for text in (str(exc), repr(exc)):
        for secret in secrets:
            assert secret not in text


def test_bearer_token_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMP_TOKEN", TOKEN)
    with ApiServer(auth=("bearer", TOKEN)) as srv:
        srv.add_route("/jobseekers", records(3))
        connector = make(srv, tmp_path,
                         connection={"auth": {"type": "bearer", "token_env": "EMP_TOKEN"}})
        connector.check()
        assert len(ids(read_all(connector))) == 3
        assert TOKEN not in repr(connector)

        monkeypatch.setenv("EMP_TOKEN", "wrong-token-value")
        wrong = make(srv, tmp_path,
                     connection={"auth": {"type": "bearer", "token_env": "EMP_TOKEN"}})
        with pytest.raises(FatalSourceError) as info:
            wrong.check()
    text = str(info.value)
    assert "authentication failed" in text and "401" in text
    assert "system=emp_api" in text and "stream=jobseekers" in text
    assert f"{srv.url}/jobseekers?page=1&size=3" in text
    assert "check token_env EMP_TOKEN" in text
    assert_secret_free(info.value, TOKEN, "wrong-token-value")


def test_basic_auth_and_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMP_USER", "hub")
    monkeypatch.setenv("EMP_PASS", "pa55-w0rd-xyz")
    auth = {"type": "basic", "username_env": "EMP_USER", "password_env": "EMP_PASS"}
    with ApiServer(auth=("basic", "hub", "pa55-w0rd-xyz")) as srv:
        srv.add_route("/jobseekers", records(3))
        assert len(ids(read_all(make(srv, tmp_path, connection={"auth": auth})))) == 3
        monkeypatch.setenv("EMP_PASS", "bad-pa55-w0rd")
        with pytest.raises(FatalSourceError) as info:
            read_all(make(srv, tmp_path, connection={"auth": auth}))
    assert "check username_env EMP_USER / password_env EMP_PASS" in str(info.value)
    assert_secret_free(info.value, "bad-pa55-w0rd", "pa55-w0rd-xyz")


def test_api_key_header_and_query_param(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMP_KEY", "key-123456")
    with ApiServer(auth=("api_key", "X-API-Key", "key-123456")) as srv:
        srv.add_route("/jobseekers", records(3))
        conn = {"auth": {"type": "api_key", "header": "X-API-Key", "key_env": "EMP_KEY"}}
        assert len(ids(read_all(make(srv, tmp_path, connection=conn)))) == 3
    with ApiServer(auth=("api_key_param", "appKey", "key-123456"), page_style="link") as srv:
        srv.add_route("/jobseekers", records(5))
        conn = {"auth": {"type": "api_key", "param": "appKey", "key_env": "EMP_KEY"}}
        connector = make(srv, tmp_path, connection=conn, stream={"pagination": {"type": "link"}},
                         batch_size=2)
        chunks = read_all(connector)
        assert len(ids(chunks)) == 5
        # the server echoes the key into its Link header; the state must not keep it
        assert all("key-123456" not in str(c.state) for c in chunks)
        monkeypatch.setenv("EMP_KEY", "wrong-key-987")
        with pytest.raises(FatalSourceError) as info:
            make(srv, tmp_path, connection=conn).check()
    assert "appKey=***" in str(info.value)
    assert_secret_free(info.value, "wrong-key-987", "key-123456")


def test_missing_env_var_is_a_config_error_naming_it(server: ApiServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    connector = make(server, tmp_path,
                     connection={"auth": {"type": "bearer", "token_env": "NO_SUCH_TOKEN"}})
    with pytest.raises(ConfigError, match="NO_SUCH_TOKEN is not set"):
        connector.check()


def test_airflow_conn_id_gives_base_url_and_credentials(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with ApiServer(auth=("basic", "hub", "af-pass-777")) as srv:
        srv.add_route("/jobseekers", records(3))
        host_port = srv.url.split("//")[1].split("/")[0]
        monkeypatch.setenv("AIRFLOW_CONN_EMP_API", f"http://hub:af-pass-777@{host_port}/api")
        raw_conn = {"conn_id": "emp_api", "auth": {"type": "basic"}}
        connector = make(srv, tmp_path, connection={**raw_conn, "base_url": None})
        assert len(ids(read_all(connector))) == 3


def test_unknown_keys_and_types_are_config_errors(server: ApiServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown pagination type 'pages'"):
        make(server, tmp_path, stream={"pagination": {"type": "pages"}})
    with pytest.raises(ConfigError, match="unknown field type 'text'"):
        make(server, tmp_path, stream={"schema": {"id": "text"}})
    with pytest.raises(ConfigError, match="unknown key 'cursor_pth'"):
        make(server, tmp_path, stream={"pagination": {"type": "cursor", "cursor_pth": "x"}})
    with pytest.raises(ConfigError, match="schema is required"):
        make(server, tmp_path, stream={"schema": None})


def test_check_names_a_wrong_records_path(server: ApiServer, tmp_path: Path) -> None:
    connector = make(server, tmp_path, stream={"records_path": "data.rows"})
    with pytest.raises(FatalSourceError, match=r"records_path 'data\.rows'") as info:
        connector.check()
    assert "stream=jobseekers" in str(info.value)


@pytest.mark.parametrize(("style", "pagination"), [
    ("page", {"type": "page", "size": 3, "total_path": "meta.pages"}),
    ("offset", {"type": "offset", "size": 3, "total_path": "meta.records"}),
])
def test_a_total_in_the_body_ends_paging_without_an_empty_page(
        tmp_path: Path, style: str, pagination: dict[str, Any]) -> None:
    with ApiServer(page_style=style, default_size=3, totals_path="meta") as srv:
        srv.add_route("/jobseekers", records(7))
        chunks = read_all(make(srv, tmp_path, stream={"pagination": pagination}))
        assert len(ids(chunks)) == 7
        assert len(srv.requests) == 3  # pages of 3, 3, 1: no fourth, empty request


def test_a_next_url_pointing_at_the_same_page_is_a_loop_error(tmp_path: Path) -> None:
    with ApiServer(page_style="page", default_size=3) as srv:
        data = records(7)
        for r in data:
            r["self"] = "/api/jobseekers?page=1&size=3"
        srv.add_route("/jobseekers", data)
        # the server's "next" link is always page 1: following it would never end
        srv.next_url_path = "unused"
        connector = make(srv, tmp_path, stream={"pagination": {
            "type": "next_url", "next_url_path": "data.items.0.self"}})
        with pytest.raises(FatalSourceError, match="next page points at the same page"):
            read_all(connector)


def test_unknown_pagination_options_name_the_style_model(server: ApiServer,
                                                         tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"size must be a positive integer, got 0 "
                                          r"\[.*path=streams\[0\]\.pagination\.size\]"):
        make(server, tmp_path, stream={"pagination": {"type": "page", "size": 0}})
    with pytest.raises(ConfigError, match="next_url_path is required") as info:
        make(server, tmp_path, stream={"pagination": {"type": "next_url"}})
    assert "next_url_path: links.next" in str(info.value)
    with pytest.raises(ConfigError, match="unknown pagination type 'links'") as info:
        make(server, tmp_path, stream={"pagination": {"type": "links"}})
    assert "did you mean 'link'?" in str(info.value) and "next_url" in str(info.value)

"""``kind: rest`` under faults from a real server: each recovers, or fails clearly.

A clear failure names the system, the stream, the method and URL (secrets masked) and the
number of attempts; the token never appears in ``str`` or ``repr`` of the error.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from hrss_test_http_server import ApiServer, Fault, records

from hrss_hub.connectors.config import parse_system
from hrss_hub.connectors.http import RetryPolicy, retry_after_seconds, safe_url
from hrss_hub.connectors.rest import RestConnector
from hrss_hub.errors import FatalSourceError, RetriableSourceError, SourceError

TOKEN = "tok-FAULTS-0042-secret"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiServer]:
    monkeypatch.setenv("EMP_TOKEN", TOKEN)
    with ApiServer(auth=("bearer", TOKEN)) as srv:
        srv.add_route("/jobseekers", records(7))
        yield srv


def make(server: ApiServer, tmp_path: Path, **connection: Any) -> RestConnector:
    raw = {
        "system": "emp_api", "kind": "rest",
        "connection": {"base_url": server.url, "max_retries": 3, "backoff_seconds": 0.01,
                       "timeout_seconds": 2,
                       "auth": {"type": "bearer", "token_env": "EMP_TOKEN"}, **connection},
        "streams": [{"name": "jobseekers", "path": "/jobseekers", "records_path": "data.items",
                     "pagination": {"type": "page", "size": 3}, "primary_key": ["id"],
                     "schema": {"id": "string", "updatedAt": "string"}}],
    }
    return RestConnector(parse_system(raw, tmp_path / "emp_api.yaml", tmp_path))


def read_ids(connector: RestConnector) -> list[str]:
    return [i for c in connector.read("jobseekers") for i in c.batch.column("id").to_pylist()]


ALL = [f"P{i:04d}" for i in range(1, 8)]


def assert_clear(exc: SourceError, server: ApiServer, attempts: int | None) -> str:
    text = str(exc)
    assert "system=emp_api" in text and "stream=jobseekers" in text
    assert f"GET {server.url}/jobseekers?page=" in text
    if attempts is not None:
        assert f"after {attempts} attempts" in text
    for shown in (text, repr(exc)):
        assert TOKEN not in shown
    return text


@pytest.mark.parametrize("fault", [
    Fault.error(500, times=2), Fault.error(503, times=2), Fault.error(502),
    Fault.error(408), Fault.truncated(), Fault.invalid_json(times=2), Fault.reset(times=2),
], ids=["500", "503", "502", "408", "truncated", "invalid-json", "reset"])
def test_transient_faults_recover_without_dups(server: ApiServer, tmp_path: Path,
                                               fault: Fault) -> None:
    fault.match = {"page": "2"}  # in the middle of the stream
    server.script(fault)
    assert read_ids(make(server, tmp_path)) == ALL
    page2 = [r for r in server.requests if r.query.get("page") == "2"]
    assert len(page2) > 1  # it really was retried


@pytest.mark.parametrize(("fault", "problem"), [
    (Fault.error(503, times=9), "HTTP 503 Service Unavailable"),
    (Fault.error(500, times=9), "HTTP 500 Internal Server Error"),
    (Fault.invalid_json(times=9), "invalid JSON in the response"),
    (Fault.truncated(times=9), "truncated"),
    (Fault.reset(times=9), "connection reset"),
], ids=["503", "500", "invalid-json", "truncated", "reset"])
def test_persistent_faults_fail_clearly_after_max_retries(server: ApiServer, tmp_path: Path,
                                                          fault: Fault, problem: str) -> None:
    server.script(fault)
    with pytest.raises(RetriableSourceError) as info:
        read_ids(make(server, tmp_path))
    text = assert_clear(info.value, server, attempts=4)
    assert problem in text
    assert len(server.requests) == 4  # max_retries=3 is a hard cap


def test_429_retry_after_seconds_is_honoured(server: ApiServer, tmp_path: Path) -> None:
    server.script(Fault.error(429, retry_after="1", page="2"))
    assert read_ids(make(server, tmp_path)) == ALL
    page2 = [r for r in server.requests if r.query.get("page") == "2"]
    assert len(page2) == 2
    assert page2[1].at - page2[0].at >= 0.95  # not the 10 ms backoff


def test_429_retry_after_http_date_is_honoured(server: ApiServer, tmp_path: Path) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    server.script(Fault.error(429, retry_after=when, page="1"))
    assert read_ids(make(server, tmp_path)) == ALL
    page1 = [r for r in server.requests if r.query.get("page") == "1"]
    # HTTP dates have 1 s resolution: the wait is between ~1 and 2 s
    assert page1[1].at - page1[0].at >= 0.9


def test_429_asking_for_too_long_a_pause_fails_retriably(server: ApiServer,
                                                         tmp_path: Path) -> None:
    server.script(Fault.error(429, retry_after="3600"))
    with pytest.raises(RetriableSourceError, match="asking to wait 3600 s") as info:
        read_ids(make(server, tmp_path))
    assert_clear(info.value, server, attempts=None)
    assert len(server.requests) == 1


def test_timeout_is_retried(server: ApiServer, tmp_path: Path) -> None:
    server.script(Fault.slow(1.0, page="1"))
    start = time.monotonic()
    assert read_ids(make(server, tmp_path, timeout_seconds=0.3)) == ALL
    assert time.monotonic() - start < 1.5


def test_persistent_timeout_fails_clearly(server: ApiServer, tmp_path: Path) -> None:
    server.script(Fault.slow(0.6, times=9))
    with pytest.raises(RetriableSourceError) as info:
        read_ids(make(server, tmp_path, timeout_seconds=0.2, max_retries=2))
    text = assert_clear(info.value, server, attempts=3)
    assert "no response within 0.2 s (timeout)" in text


def test_connection_refused_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv("EMP_TOKEN", TOKEN)
    srv = ApiServer()  # bound but never started, then closed: nobody listens on the port
    url = srv.url
    srv._httpd.server_close()
    with socket.socket() as probe:  # the port is really closed
        assert probe.connect_ex(("127.0.0.1", int(url.split(":")[2].split("/")[0]))) != 0
    connector = make(srv, tmp_path)
    with pytest.raises(RetriableSourceError) as info:
        connector.check()
    text = str(info.value)
    assert "connection refused" in text and "after 4 attempts" in text
    assert f"GET {url}/jobseekers?page=1&size=3" in text
    assert TOKEN not in text and TOKEN not in repr(info.value)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_fatal_at_once(server: ApiServer, tmp_path: Path, status: int
                                         ) -> None:
    server.script(Fault.error(status))
    with pytest.raises(FatalSourceError, match=f"HTTP {status}") as info:
        read_ids(make(server, tmp_path))
    assert_clear(info.value, server, attempts=None)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_fatal_and_say_what_to_check(server: ApiServer, tmp_path: Path,
                                                       status: int) -> None:
    server.script(Fault.error(status))
    with pytest.raises(FatalSourceError) as info:
        read_ids(make(server, tmp_path))
    text = assert_clear(info.value, server, attempts=None)
    assert "authentication failed" in text and "check token_env EMP_TOKEN" in text
    assert len(server.requests) == 1


def test_secrets_in_urls_are_masked() -> None:
    url = "https://u:hunter22@api.example/x?page=2&access_token=abc123&appKey=k9&sign=zz&q=1"
    shown = safe_url(url, ["k9"])
    assert shown == "https://api.example/x?page=2&access_token=***&appKey=***&sign=***&q=1"
    assert safe_url("http://h/x?id=s3cr3t-value", ["s3cr3t-value"]) == "http://h/x?id=***"


def test_retry_after_parsing_and_full_jitter_bounds() -> None:
    now = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds("Wed, 01 May 2024 08:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 01 May 2024 07:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    policy = RetryPolicy(backoff_seconds=0.5, max_backoff_seconds=3.0)
    waits = [policy.backoff(4) for _ in range(500)]
    assert all(0 <= w <= 3.0 for w in waits)  # min(cap, 0.5 * 2**3) = 3
    assert max(waits) > 2.0 and min(waits) < 1.0  # jitter really spreads the waits

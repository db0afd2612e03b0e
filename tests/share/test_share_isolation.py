"""A recipient's token reaches its own share and nothing else, on every endpoint.

One real ``hrss-hub share serve`` process on loopback serves two recipients; requests go
over HTTP exactly as a client sends them. Statuses and bodies follow PROTOCOL.md: 401 for
a missing, unknown, expired or revoked token; 403 when the agreement is not in force; 404
for what is not the caller's; always ``{"errorCode", "message"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from share_helpers import (
    CIVIL,
    MEDICAL,
    Server,
    Workspace,
    create_token,
    make_workspace,
    person_rows,
    serve,
)

from hrss_hub.exchange.policy import load_agreement
from hrss_hub.ledger import Ledger
from hrss_hub.share.settings import url_key
from hrss_hub.share.storage import OutboxRoot
from hrss_hub.share.tokens import TokenStore
from hrss_hub.share.urls import FileUrls

pytestmark = pytest.mark.integration

T = "/shares/{share}/schemas/default/tables/person"
#: every protocol endpoint, as (method, path template, body)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/shares", None),
    ("GET", "/shares/{share}", None),
    ("GET", "/shares/{share}/schemas", None),
    ("GET", "/shares/{share}/schemas/default/tables", None),
    ("GET", "/shares/{share}/all-tables", None),
    ("GET", T + "/version", None),
    ("HEAD", T, None),
    ("GET", T + "/metadata", None),
    ("POST", T + "/query", {}),
    ("POST", T + "/query", {"version": 0}),
    ("POST", T + "/query", {"startingVersion": 0}),
    ("GET", T + "/changes?startingVersion=0", None),
]
SHARE_SCOPED = [e for e in ENDPOINTS if "{share}" in e[1]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ws = make_workspace(tmp_path_factory.mktemp("isolation") / "ws")
    ws.write_outbox("medical-insurance", "person", person_rows(range(20)))
    ws.merge_outbox("medical-insurance", "person", person_rows(range(10, 30), retired=True),
                    "citizen_id")
    ws.write_outbox("civil-affairs", "person",
                    person_rows(range(5)).select(["citizen_id", "gender", "address_division"]))
    # a table of the unmasked exchange next to the outboxes: no share may name it
    exchange = ws.root / "exchange" / "person"
    exchange.parent.mkdir(parents=True)
    from deltalake import write_deltalake
    write_deltalake(str(exchange), person_rows(range(3)))
    with serve(ws) as server:
        profiles = ws.root / "profiles"
        endpoint = ["--endpoint", server.endpoint]
        tokens = {
            "medical": create_token(ws, "medical-insurance", profiles / "mi.share", *endpoint),
            "civil": create_token(ws, "civil-affairs", profiles / "ca.share", *endpoint),
            "revoked": create_token(ws, "medical-insurance", profiles / "old.share",
                                    *endpoint),
        }
        with Ledger.open(ws.ledger_url) as ledger:
            store = TokenStore(ledger)
            revoked = store.authenticate(tokens["revoked"]["bearerToken"])
            assert revoked is not None
            store.revoke("medical-insurance", actor="test", token_id=revoked.id)
            agreement = load_agreement(ws.agreement_file("medical-insurance"))
            long_ago = datetime.now(UTC) - timedelta(days=30)
            expired = store.create(agreement, endpoint=server.endpoint, actor="test", days=1,
                                   now=long_ago)
        yield {"ws": ws, "server": server, "tokens": {k: v["bearerToken"]
                                                      for k, v in tokens.items()},
               "expired_token": expired.token}


def call(server: Server, method: str, path: str, body: dict[str, Any] | None,
         token: str | None, share: str = "medical-insurance") -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    url = server.url(path.format(share=share))
    return requests.request(method, url, headers=headers, timeout=30,
                            json=body if method == "POST" else None)


def error_of(response: requests.Response) -> dict[str, Any]:
    """The protocol's JSON error body (HEAD responses have none)."""
    if response.request.method == "HEAD":
        return {"errorCode": "?", "message": "?"}
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"errorCode", "message"} and body["message"]
    return body


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_the_owner_reads_every_endpoint(world: dict[str, Any], method: str, path: str,
                                        body: dict[str, Any] | None) -> None:
    response = call(world["server"], method, path, body, world["tokens"]["medical"])
    assert response.status_code == 200, response.text
    if path.endswith(("/version", "/person")) or method == "HEAD":
        assert response.headers["Delta-Table-Version"] == "1"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("who", ["none", "garbage", "revoked", "expired"])
def test_missing_unknown_revoked_and_expired_tokens_get_401(
        world: dict[str, Any], who: str, method: str, path: str,
        body: dict[str, Any] | None) -> None:
    token = {"none": None, "garbage": "hrss-share-" + "x" * 43,
             "revoked": world["tokens"]["revoked"], "expired": world["expired_token"]}[who]
    response = call(world["server"], method, path, body, token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if method != "HEAD":
        assert error_of(response)["errorCode"] == "UNAUTHENTICATED"
        if who in ("revoked", "expired"):
            assert who in response.json()["message"]


@pytest.mark.parametrize(("method", "path", "body"), SHARE_SCOPED)
def test_a_foreign_token_finds_nothing_of_another_share(
        world: dict[str, Any], method: str, path: str, body: dict[str, Any] | None) -> None:
    response = call(world["server"], method, path, body, world["tokens"]["civil"])
    assert response.status_code == 404
    if method != "HEAD":
        assert error_of(response)["errorCode"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_foreign_token_lists_only_its_own_share(world: dict[str, Any]) -> None:
    response = call(world["server"], "GET", "/shares", None, world["tokens"]["civil"])
    assert [s["name"] for s in response.json()["items"]] == ["civil-affairs"]
    tables = call(world["server"], "GET", "/shares/civil-affairs/all-tables", None,
                  world["tokens"]["civil"]).json()["items"]
    assert [(t["share"], t["schema"], t["name"]) for t in tables] == [
        ("civil-affairs", "default", "person")]


@pytest.mark.parametrize("path", [
    "/shares/nobody", "/shares/nobody/all-tables", "/shares/medical-insurance/schemas/other/tables",
    "/shares/medical-insurance/schemas/default/tables/employment/version",
    "/shares/medical-insurance/schemas/other/tables/person/metadata",
    "/shares/exchange/schemas/default/tables/person/version",
    "/shares/..%2Fexchange/schemas/default/tables/person/version",
    "/shares/medical-insurance/schemas/default/tables/..%2F..%2Fexchange%2Fperson/version",
])
def test_what_the_agreement_does_not_name_is_404(world: dict[str, Any], path: str) -> None:
    response = call(world["server"], "GET", path, None, world["tokens"]["medical"])
    assert response.status_code == 404
    assert error_of(response)["errorCode"] == "RESOURCE_DOES_NOT_EXIST"


def test_names_are_case_insensitive(world: dict[str, Any]) -> None:
    response = call(world["server"], "GET",
                    "/shares/Medical-Insurance/schemas/DEFAULT/tables/Person/version", None,
                    world["tokens"]["medical"])
    assert response.status_code == 200


@pytest.mark.parametrize("change", ["expired", "revoked", "pending"])
def test_an_agreement_out_of_force_closes_every_endpoint_at_once(
        world: dict[str, Any], change: str) -> None:
    ws: Workspace = world["ws"]
    edits = {"expired": {"valid_to": (date.today() - timedelta(days=1)).isoformat()},
             "revoked": {"revoked": True},
             "pending": {"valid_from": (date.today() + timedelta(days=1)).isoformat()}}
    ws.edit_agreement("medical-insurance", **edits[change])
    try:
        for method, path, body in ENDPOINTS:
            response = call(world["server"], method, path, body, world["tokens"]["medical"])
            assert response.status_code == 403, (method, path, response.text)
            if method != "HEAD":
                assert error_of(response)["errorCode"] == "PERMISSION_DENIED"
                assert {"expired": "expired on", "revoked": "revoked",
                        "pending": "not in force before"}[change] in response.json()["message"]
        # the other recipient is not affected
        assert call(world["server"], "GET", "/shares", None,
                    world["tokens"]["civil"]).status_code == 200
    finally:
        ws.write_agreement(MEDICAL)
    assert call(world["server"], "GET", "/shares", None,
                world["tokens"]["medical"]).status_code == 200


def test_a_broken_agreement_folder_closes_every_share(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    path = ws.agreement_file("civil-affairs")
    path.write_text("recipient: [unclosed\n", encoding="utf-8")
    try:
        for token in (world["tokens"]["medical"], world["tokens"]["civil"]):
            response = call(world["server"], "GET", "/shares", None, token)
            assert response.status_code == 503
            assert error_of(response)["errorCode"] == "TEMPORARILY_UNAVAILABLE"
    finally:
        ws.write_agreement(CIVIL)
    assert call(world["server"], "GET", "/shares", None,
                world["tokens"]["civil"]).status_code == 200


def _file_urls(world: dict[str, Any], token: str) -> list[str]:
    response = call(world["server"], "POST", T + "/query", {}, token)
    lines = [json.loads(x) for x in response.text.splitlines()]
    return [x["file"]["url"] for x in lines if "file" in x]


def test_file_urls_are_signed_and_bound_to_their_file(world: dict[str, Any]) -> None:
    url = _file_urls(world, world["tokens"]["medical"])[0]
    assert requests.get(url, timeout=30).content[:4] == b"PAR1"
    base, query = url.split("?")
    tampered_sig = f"{base}?{query[:-1]}{'0' if query[-1] != '0' else '1'}"
    later = base + "?" + query.replace("e=", "e=9")
    other_nonce = base + "?" + query.replace("n=", "n=0")
    no_nonce = base + "?" + "&".join(q for q in query.split("&") if not q.startswith("n="))
    other_file = base.rsplit("/", 1)[0] + "/_delta_log/00000000000000000000.json?" + query
    escape = base.split("/person/")[0] + "/person/1/..%2F..%2F..%2Fexchange%2Fperson?" + query
    foreign = base.replace("/medical-insurance/", "/civil-affairs/") + "?" + query
    for bad in (tampered_sig, later, other_nonce, no_nonce, other_file, escape, foreign, base):
        response = requests.get(bad, timeout=30)
        assert response.status_code == 403, bad
        assert error_of(response)["errorCode"] == "PERMISSION_DENIED"


def test_an_expired_file_url_is_refused(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    url = _file_urls(world, world["tokens"]["medical"])[0]
    # re-sign the same file with an expiry in the past, as the server would have
    path = url.split("/delta-sharing/files/", 1)[1].split("?")[0]
    token_id, share, schema, table, version, rest = path.split("/", 5)
    urls = FileUrls(url_key(ws.root / ".hrss-hub"), world["server"].endpoint, 60,
                    OutboxRoot.open(ws.outbox))
    from urllib.parse import unquote
    old = urls._sign(token_id, share, schema, table, int(version), unquote(rest),
                     1_000_000, "abc")
    response = requests.get(url.split("?")[0] + f"?e=1000000&n=abc&s={old}", timeout=30)
    assert response.status_code == 403
    assert "expired" in error_of(response)["message"]


def test_revoking_a_token_invalidates_its_file_urls(world: dict[str, Any],
                                                    tmp_path: Path) -> None:
    ws: Workspace = world["ws"]
    profile = create_token(ws, "medical-insurance", tmp_path / "p.share", "--endpoint",
                           world["server"].endpoint)
    url = _file_urls(world, profile["bearerToken"])[0]
    assert requests.get(url, timeout=30).status_code == 200
    with Ledger.open(ws.ledger_url) as ledger:
        store = TokenStore(ledger)
        info = store.authenticate(profile["bearerToken"])
        assert info is not None
        store.revoke("medical-insurance", actor="test", token_id=info.id)
    assert requests.get(url, timeout=30).status_code == 403


def test_bad_requests_are_400_with_a_reason(world: dict[str, Any]) -> None:
    token = world["tokens"]["medical"]
    cases = [
        ("POST", T + "/query", {"version": 99}, "does not exist"),
        ("POST", T + "/query", {"version": 0, "timestamp": "2026-01-01T00:00:00Z"},
         "mutually exclusive"),
        ("POST", T + "/query", {"limitHint": -1}, "non-negative"),
        ("POST", T + "/query", {"timestamp": "yesterday"}, "ISO 8601"),
        ("POST", T + "/query", {"timestamp": "2000-01-01T00:00:00Z"}, "before"),
        ("GET", T + "/changes", None, "startingVersion"),
        ("GET", T + "/changes?startingVersion=5", None, "after the latest"),
        ("GET", T + "/changes?startingVersion=1&endingVersion=0", None, "before"),
        ("GET", T + "/changes?startingVersion=x", None, "integer"),
        ("GET", "/shares?maxResults=x", None, "integer"),
        ("GET", "/shares?pageToken=forged", None, "pageToken"),
    ]
    for method, path, body, words in cases:
        response = call(world["server"], method, path, body, token)
        assert response.status_code == 400, (path, body, response.text)
        assert words in error_of(response)["message"], (path, response.text)
    raw = requests.post(world["server"].url(T.format(share="medical-insurance") + "/query"),
                        data=b"{not json", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert raw.status_code == 400 and error_of(raw)["errorCode"] == "MALFORMED_REQUEST"
    unknown = call(world["server"], "GET", "/no/such/route", None, token)
    assert unknown.status_code == 404 and error_of(unknown)


def test_page_tokens_are_bound_to_their_listing(world: dict[str, Any]) -> None:
    token = world["tokens"]["medical"]
    first = call(world["server"], "GET", "/shares?maxResults=0", None, token).json()
    assert first["items"] == [] and first["nextPageToken"]
    rest = call(world["server"], "GET", f"/shares?pageToken={first['nextPageToken']}", None,
                token).json()
    assert [s["name"] for s in rest["items"]] == ["medical-insurance"]
    assert "nextPageToken" not in rest
    elsewhere = call(world["server"], "GET",
                     f"/shares/medical-insurance/all-tables?pageToken={first['nextPageToken']}",
                     None, token)
    assert elsewhere.status_code == 400


def test_capabilities_and_file_id_headers_are_answered_as_the_protocol_says(
        world: dict[str, Any]) -> None:
    token = world["tokens"]["medical"]
    url = world["server"].url(T.format(share="medical-insurance") + "/query")
    auth = {"Authorization": f"Bearer {token}"}

    def query(**headers: str) -> requests.Response:
        return requests.post(url, json={}, headers={**auth, **headers}, timeout=30)

    plain = query()
    assert plain.headers["delta-sharing-capabilities"] == "responseformat=parquet"
    both = query(**{"delta-sharing-capabilities": "responseformat=delta,parquet"})
    assert both.headers["delta-sharing-capabilities"] == "responseformat=parquet"
    delta = query(**{"delta-sharing-capabilities":
                     "ResponseFormat=Delta;ReaderFeatures=deletionvectors"})
    assert delta.headers["delta-sharing-capabilities"] == "responseformat=delta"
    first = json.loads(delta.text.splitlines()[0])
    assert first["protocol"]["deltaProtocol"]["minReaderVersion"] == 1
    ended = query(**{"delta-sharing-capabilities":
                     "responseformat=parquet;includeendstreamaction=true"})
    assert "includeendstreamaction=true" in ended.headers["delta-sharing-capabilities"]
    lines = [json.loads(x) for x in ended.text.splitlines()]
    expiries = [x["file"]["expirationTimestamp"] for x in lines if "file" in x]
    assert lines[-1] == {"endStreamAction": {"minUrlExpirationTimestamp": min(expiries)}}
    assert "endStreamAction" not in plain.text
    unknown = query(**{"delta-sharing-capabilities": "responseformat=orc"})
    assert unknown.status_code == 400 and "orc" in error_of(unknown)["message"]
    hashed = query(fileidhash="Delta")
    assert hashed.headers["fileidhash"] == "delta"
    bad = query(fileidhash="md5")
    assert bad.status_code == 400 and "fileidhash" in error_of(bad)["message"]
    # file ids are stable across requests; URLs are new each time
    ids = [[json.loads(x)["file"]["id"] for x in r.text.splitlines() if '"file"' in x]
           for r in (plain, both)]
    urls = [[json.loads(x)["file"]["url"] for x in r.text.splitlines() if '"file"' in x]
            for r in (plain, both)]
    assert ids[0] == ids[1] and ids[0]
    assert urls[0] != urls[1] or len(set(urls[0])) == len(urls[0])

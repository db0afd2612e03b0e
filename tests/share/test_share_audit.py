"""Every query and every file download is one event in the hash-chained audit log, with
recipient, table, version and file — and the bearer token appears nowhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from share_helpers import client_ok, create_token, hub, make_workspace, person_rows, serve

from hrss_hub.ledger import Ledger

pytestmark = pytest.mark.integration

T = "/shares/medical-insurance/schemas/default/tables/person"


def events(ws_ledger: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(ws_ledger)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "select actor, action, subject, details from audit_events order by seq"))
            return [{"actor": r[0], "action": r[1], "subject": r[2],
                     "details": r[3] if isinstance(r[3], dict) else json.loads(r[3])}
                    for r in rows]
    finally:
        engine.dispose()


def test_queries_downloads_and_refusals_are_audited_once_each(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ws.write_outbox("medical-insurance", "person", person_rows(range(30)))
    ws.merge_outbox("medical-insurance", "person", person_rows(range(20, 40)), "citizen_id")
    ws.write_outbox("civil-affairs", "person",
                    person_rows(range(3)).select(["citizen_id", "gender", "address_division"]))
    with serve(ws) as server:
        profile = ws.root / "mi.share"
        doc = create_token(ws, "medical-insurance", profile, "--endpoint", server.endpoint)
        civil = create_token(ws, "civil-affairs", ws.root / "ca.share", "--endpoint",
                             server.endpoint)
        token = doc["bearerToken"]
        auth = {"Authorization": f"Bearer {token}"}
        before = len(events(ws.ledger_url))
        # three queries by hand: snapshot, time travel, change feed
        snap = requests.post(server.url(T + "/query"), json={}, headers=auth, timeout=30)
        requests.post(server.url(T + "/query"), json={"version": 0}, headers=auth, timeout=30)
        requests.get(server.url(T + "/changes?startingVersion=0"), headers=auth, timeout=30)
        # metadata and listings are not data queries
        requests.get(server.url(T + "/metadata"), headers=auth, timeout=30)
        requests.get(server.url("/shares"), headers=auth, timeout=30)
        # one file fetched the way readers do: HEAD, then several ranged GETs
        url = next(json.loads(x)["file"]["url"] for x in snap.text.splitlines() if '"file"' in x)
        requests.head(url, timeout=30)
        for byte_range in ("bytes=-8", "bytes=0-99", "bytes=100-"):
            assert requests.get(url, headers={"Range": byte_range}, timeout=30).status_code == 206
        # the real client: one more snapshot query and its downloads
        client_ok(f"""
import delta_sharing
delta_sharing.load_as_pandas("{profile}#medical-insurance.default.person")
""", cwd=ws.root)
        # a foreign share: refused and recorded under the caller
        foreign = requests.get(server.url("/shares/civil-affairs/all-tables"), headers=auth,
                               timeout=30)
        assert foreign.status_code == 404
        log_text = server.output()
    new = events(ws.ledger_url)[before:]
    queries = [e for e in new if e["action"] == "share_query"]
    assert [q["details"]["kind"] for q in queries] == ["snapshot", "time_travel", "changes",
                                                      "snapshot"]
    for q in queries:
        d = q["details"]
        assert q["actor"] == "recipient:medical-insurance"
        assert d["recipient"] == "medical-insurance" and d["token_id"].startswith("tok-")
        assert d["table"] == "medical-insurance.default.person"
        assert d["files"] and all(f.endswith(".parquet") for f in d["files"])
    assert [q["details"]["version"] for q in queries] == [1, 0, 0, 1]
    downloads = [e for e in new if e["action"] == "share_download"]
    snapshot_files = set(queries[-1]["details"]["files"])
    # the hand-made URL once (three ranged GETs), then each file the client read, once
    assert len(downloads) == 1 + len(snapshot_files)
    assert {d["details"]["file"] for d in downloads[1:]} == snapshot_files
    assert downloads[0]["details"]["range"] == "bytes=-8"
    assert all(d["details"]["version"] == 1 for d in downloads)
    denied = [e for e in new if e["action"] == "share_denied"]
    assert len(denied) == 1 and denied[0]["details"]["status"] == 404
    assert denied[0]["subject"].startswith("medical-insurance:")
    # the token is nowhere: not in the chain, not in the ledger file, not in the log
    everything = json.dumps(events(ws.ledger_url), ensure_ascii=False)
    for secret in (token, civil["bearerToken"]):
        assert secret not in everything and secret not in log_text
        assert secret.encode() not in (ws.root / ".hrss-hub" / "ledger.db").read_bytes()
    # nor the URL signatures (they grant reads for minutes): the log prints paths only
    assert url.split("s=")[1] not in log_text
    verified = hub("audit", "verify", "--config", str(ws.config))
    assert "intact" in verified.stdout.lower() or verified.returncode == 0
    with Ledger.open(ws.ledger_url) as ledger:
        assert ledger.verify_audit() == []

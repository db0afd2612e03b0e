"""The catalog shows each share: recipient, tables, columns kept/masked/dropped, row scope,
validity and token status — never a token."""

from __future__ import annotations

import json
from pathlib import Path

from share_helpers import create_token, hub, make_workspace, person_rows


def test_the_catalog_lists_shares_with_their_terms_and_token_status(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ws.write_outbox("medical-insurance", "person", person_rows(range(4)))
    keep = create_token(ws, "medical-insurance", tmp_path / "a.share")["bearerToken"]
    gone = create_token(ws, "medical-insurance", tmp_path / "b.share")["bearerToken"]
    ids = json.loads(hub("share", "token", "list", "--config", str(ws.config),
                         "--json").stdout)
    hub("share", "token", "revoke", "medical-insurance", "--config", str(ws.config), "--id",
        ids[1]["id"])
    html = tmp_path / "catalog.html"
    doc = json.loads(hub("catalog", "--config", str(ws.config), "--json", "--html",
                         str(html)).stdout)
    shares = {s["share"]: s for s in doc["shares"]}
    assert set(shares) == {"medical-insurance", "civil-affairs"}
    mi = shares["medical-insurance"]
    assert mi["recipient_name"] == "成都市武侯区医疗保障局" and mi["state"] == "active"
    assert (mi["valid_from"], mi["valid_to"]) == ("2026-01-01", "2030-12-31")
    assert mi["tokens"]["active"] == 1 and mi["tokens"]["revoked"] == 1
    assert mi["tokens"]["next_expiry"].startswith("2030-12-31") or \
        mi["tokens"]["next_expiry"].startswith("2031-01-01")
    (person,) = mi["tables"]
    assert person["qualified"] == "medical-insurance.default.person" and person["shared"]
    assert person["version"] == 0
    assert person["kept"] == ["gender", "birth_date", "address_division", "retired"]
    assert person["masked"] == {"citizen_id": "pseudonym", "name": "partial"}
    # dropped: listed as drop, and every field of the entity the grant does not name
    assert {"phone", "citizen_id_raw", "source_key", "run_id"} <= set(person["dropped"])
    assert person["division_prefix"] == ["510107"]
    civil = shares["civil-affairs"]
    assert not civil["tables"][0]["shared"] and civil["tokens"]["active"] == 0
    page = html.read_text(encoding="utf-8")
    assert "Shares (Delta Sharing)" in page and "medical-insurance.default.person" in page
    assert "citizen_id (pseudonym)" in page and "not delivered yet" in page
    assert "<script" not in page and "http" not in page.split("<body>", 1)[1]
    text = hub("catalog", "--config", str(ws.config)).stdout
    for token in (keep, gone):
        assert token not in json.dumps(doc) and token not in page and token not in text

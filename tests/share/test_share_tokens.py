"""Recipients' tokens: created with a profile file, stored hashed, listed without the
token, revoked; expiry follows the agreement; bad input is a clear error (exit 2)."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from share_helpers import MEDICAL, create_token, free_port, hub, make_workspace

from hrss_hub.exchange.policy import load_agreement
from hrss_hub.ledger import Ledger
from hrss_hub.share.tokens import TokenStore, agreement_end


def test_create_writes_a_standard_profile_and_stores_only_a_hash(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    out = tmp_path / "profiles" / "mi.share"
    result = hub("share", "token", "create", "medical-insurance", "--config", str(ws.config),
                 "--out", str(out), "--endpoint", "https://share.example.cn/delta-sharing")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {"shareCredentialsVersion", "endpoint", "bearerToken", "expirationTime"}
    assert doc["shareCredentialsVersion"] == 1
    assert doc["endpoint"] == "https://share.example.cn/delta-sharing"
    token = doc["bearerToken"]
    assert token.startswith("hrss-share-") and len(token) > 50
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # expiry: the end of valid_to (local midnight after it), in UTC
    end = datetime.combine(date(2030, 12, 31) + timedelta(days=1), time.min).astimezone()
    assert doc["expirationTime"] == end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert token not in result.stdout + result.stderr
    db = (ws.root / ".hrss-hub" / "ledger.db").read_bytes()
    assert token.encode() not in db
    engine = sa.create_engine(ws.ledger_url)
    with engine.connect() as conn:
        (stored,) = conn.execute(sa.text("select token_sha256 from share_tokens")).one()
    engine.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest()


def test_days_shortens_but_never_extends_the_agreement(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    agreement = load_agreement(ws.agreement_file("medical-insurance"))
    with Ledger.open(ws.ledger_url) as ledger:
        store = TokenStore(ledger)
        now = datetime.now(UTC)
        short = store.create(agreement, endpoint="http://x", actor="t", days=7, now=now)
        assert short.info.expires_at == now + timedelta(days=7)
        long = store.create(agreement, endpoint="http://x", actor="t", days=100_000, now=now)
        assert long.info.expires_at == agreement_end(agreement)
        assert short.info.status(now + timedelta(days=8)) == "expired"
        assert short.info.status(now) == "active"


def test_list_shows_status_never_the_token(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    a = create_token(ws, "medical-insurance", tmp_path / "a.share")
    b = create_token(ws, "medical-insurance", tmp_path / "b.share")
    create_token(ws, "civil-affairs", tmp_path / "c.share")
    hub("share", "token", "revoke", "medical-insurance", "--config", str(ws.config), "--id",
        _token_id(ws, b["bearerToken"]))
    text = hub("share", "token", "list", "--config", str(ws.config)).stdout
    listed = json.loads(hub("share", "token", "list", "medical-insurance", "--config",
                            str(ws.config), "--json").stdout)
    assert sorted(t["status"] for t in listed) == ["active", "revoked"]
    assert {t["recipient"] for t in listed} == {"medical-insurance"}
    assert "civil-affairs" in text and "revoked" in text
    for token in (a["bearerToken"], b["bearerToken"]):
        assert token not in text and token not in json.dumps(listed)
        assert token[len("hrss-share-"):][:12] not in text


def _token_id(ws: object, token: str) -> str:
    with Ledger.open(ws.ledger_url) as ledger:  # type: ignore[attr-defined]
        info = TokenStore(ledger).authenticate(token)
        assert info is not None
        return info.id


def test_revoke_all_of_a_recipient_and_nothing_twice(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    create_token(ws, "medical-insurance", tmp_path / "a.share")
    create_token(ws, "medical-insurance", tmp_path / "b.share")
    keep = create_token(ws, "civil-affairs", tmp_path / "c.share")
    out = hub("share", "token", "revoke", "medical-insurance", "--config", str(ws.config))
    assert out.stdout.count("revoked tok-") == 2
    again = hub("share", "token", "revoke", "medical-insurance", "--config", str(ws.config),
                check=False)
    assert again.returncode == 1 and "no active token" in again.stdout
    with Ledger.open(ws.ledger_url) as ledger:
        info = TokenStore(ledger).authenticate(keep["bearerToken"])
        assert info is not None and info.status() == "active"
        events = [e for e in _audit(ledger) if e[0].startswith("share_token")]
    assert [e[0] for e in events] == ["share_token_create"] * 3 + ["share_token_revoke"] * 2
    for _, details in events:
        assert "hrss-share-" not in json.dumps(details)


def _audit(ledger: Ledger) -> list[tuple[str, dict[str, object]]]:
    with ledger.engine.connect() as conn:
        return [(r[0], r[1] if isinstance(r[1], dict) else json.loads(r[1]))
                for r in conn.execute(sa.text("select action, details from audit_events "
                                              "order by seq"))]


@pytest.mark.parametrize(("args", "edit", "words"), [
    (["share", "token", "create", "nobody"], None, "unknown recipient 'nobody'"),
    (["share", "token", "create", "medical-insurance"],
     {"valid_from": "2020-01-01", "valid_to": "2020-12-31"}, "expired on 2020-12-31"),
    (["share", "token", "create", "medical-insurance"], {"revoked": True}, "revoked"),
    (["share", "token", "create", "medical-insurance", "--days", "0"], None,
     "--days must be positive"),
    (["share", "token", "revoke", "medical-insurance", "--id", "tok-000000000000"], None,
     "no token 'tok-000000000000'"),
    (["share", "token", "create", "medical-insurance"], {"revoked": "maybe"}, "revoked"),
])
def test_bad_token_requests_are_clear_errors(tmp_path: Path, args: list[str],
                                             edit: dict[str, object] | None,
                                             words: str) -> None:
    ws = make_workspace(tmp_path / "ws")
    if edit:
        ws.write_agreement({**MEDICAL, **edit})
    result = hub(*args, "--config", str(ws.config), "--out", str(tmp_path / "p.share"),
                 check=False) if args[2] == "create" else hub(*args, "--config",
                                                              str(ws.config), check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p.share").exists()


def test_an_existing_profile_is_never_overwritten(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    out = tmp_path / "mi.share"
    out.write_text("precious")
    result = hub("share", "token", "create", "medical-insurance", "--config", str(ws.config),
                 "--out", str(out), check=False)
    assert result.returncode == 2 and "exists already" in result.stderr
    assert out.read_text() == "precious"
    with Ledger.open(ws.ledger_url) as ledger:
        assert TokenStore(ledger).all() == []


@pytest.mark.parametrize(("share", "words"), [
    ({"prot": 1}, "unknown key 'prot'"),
    ({"port": "eighty"}, "port"),
    ({"port": 70000}, "port must be at most 65535"),
    ({"tls_cert": "cert.pem"}, "TLS needs both"),
    ({"tls_cert": "nope.pem", "tls_key": "nope.key"}, "TLS file not found"),
    ({"endpoint": "ftp://x"}, "must be an http(s) URL"),
    ({"url_ttl_seconds": 1}, "url_ttl_seconds must be at least 10"),
])
def test_bad_share_settings_stop_serve_with_exit_2(tmp_path: Path, share: dict[str, object],
                                                    words: str) -> None:
    ws = make_workspace(tmp_path / "ws", share=share)
    (ws.root / "cert.pem").write_text("x")
    # a free port: were a setting wrongly accepted, the server must not take a real one
    result = hub("share", "serve", "--config", str(ws.config), "--port", str(free_port()),
                 check=False, timeout=60) if "port" not in share else hub(
        "share", "serve", "--config", str(ws.config), check=False, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
def test_the_token_store_on_every_ledger_backend(tmp_path: Path, ledger_url: str) -> None:
    ws = make_workspace(tmp_path / "ws")
    agreement = load_agreement(ws.agreement_file("medical-insurance"))
    with Ledger.open(ledger_url) as ledger:
        store = TokenStore(ledger)
        new = store.create(agreement, endpoint="https://x/delta-sharing", actor="t")
        found = store.authenticate(new.token)
        assert found is not None and found.id == new.info.id
        assert found.expires_at == agreement_end(agreement) and found.status() == "active"
        assert store.authenticate(new.token + "x") is None
        assert store.authenticate("not-a-hub-token") is None
        assert [t.id for t in store.revoke("medical-insurance", actor="t")] == [new.info.id]
        again = store.authenticate(new.token)
        assert again is not None and again.status() == "revoked"
        assert ledger.verify_audit() == []

"""Pseudonym keys: an empty, short or non-hex key is refused, naming the recipient and where
the key came from (defect 13: an empty key file gave HMAC with an empty key — reversible)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import yaml
from exchange_helpers import persons, stage

from hrss_hub.config import HubConfig
from hrss_hub.errors import ConfigError
from hrss_hub.exchange.masking import pseudonym_key
from hrss_hub.exchange.versions import publish_pending
from hrss_hub.ledger import Ledger


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HRSS_HUB_PSEUDONYM_KEY_"):
            monkeypatch.delenv(name)


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "mib.key").write_text("\n", encoding="ascii")
    with pytest.raises(ConfigError) as info:
        pseudonym_key("mib", keys)
    text = str(info.value)
    assert "the pseudonym key is empty" in text and "reversible" in text
    assert "recipient=mib" in text and f"file={keys / 'mib.key'}" in text
    assert "HRSS_HUB_PSEUDONYM_KEY_MIB" in text  # the other place a key may come from
    assert (keys / "mib.key").read_text(encoding="ascii") == "\n"  # never replaced silently


@pytest.mark.parametrize(("value", "fragment"), [
    ("ab" * 31, "has 31 bytes; at least 32 are required"),
    ("zz" * 32, "is not hex"),
    ("  ", None),  # blank: as if unset, so the key file is used
])
def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   value: str, fragment: str | None) -> None:
    monkeypatch.setenv("HRSS_HUB_PSEUDONYM_KEY_CITY_510100", value)
    if fragment is None:
        assert len(pseudonym_key("city-510100", tmp_path)) == 32
        return
    with pytest.raises(ConfigError, match=fragment) as info:
        pseudonym_key("city-510100", tmp_path)
    assert "env=HRSS_HUB_PSEUDONYM_KEY_CITY_510100" in str(info.value)
    assert value not in str(info.value)  # the key itself is never shown


def test_short_key_file_and_a_good_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tax.key").write_text("00" * 16, encoding="ascii")
    with pytest.raises(ConfigError, match="has 16 bytes"):
        pseudonym_key("tax", tmp_path)
    good = "0f" * 40
    monkeypatch.setenv("HRSS_HUB_PSEUDONYM_KEY_TAX", good)
    assert pseudonym_key("tax", tmp_path) == bytes.fromhex(good)  # env over file


def test_a_missing_key_is_created_once_private_and_long(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(pseudonym_key("mib", keys)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results[0]) == 32  # one key for every caller
    mode = stat.S_IMODE((keys / "mib.key").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in keys.iterdir()] == ["mib.key"]  # no temporary files left


def test_the_share_url_key_follows_the_same_rules(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.config.keys import load_share_url_key

    monkeypatch.delenv("HRSS_HUB_SHARE_URL_KEY", raising=False)
    (tmp_path / "share-url.key").write_text("", encoding="ascii")
    with pytest.raises(ConfigError, match="the share URL key is empty: signed URLs could be"):
        load_share_url_key(tmp_path)
    monkeypatch.setenv("HRSS_HUB_SHARE_URL_KEY", "11" * 32)
    assert load_share_url_key(tmp_path) == bytes(32 * [0x11])
    monkeypatch.delenv("HRSS_HUB_SHARE_URL_KEY")
    assert len(load_share_url_key(tmp_path / "fresh")) == 32


def test_delivery_with_an_empty_key_fails_and_delivers_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY", raising=False)
    monkeypatch.delenv("HRSS_HUB_OUTBOX_URI", raising=False)
    (tmp_path / "sharing").mkdir()
    (tmp_path / "sharing" / "mib.yaml").write_text(yaml.safe_dump({
        "recipient": {"id": "mib", "name": "医保局", "level": "district"},
        "purpose": "核验", "legal_basis": "PIPL", "valid_from": "2026-01-01",
        "valid_to": "2099-12-31",
        "datasets": {"person": {"columns": {"citizen_id": "pseudonym", "gender": "keep"}}},
    }, allow_unicode=True), encoding="utf-8")
    cfg = HubConfig(root=tmp_path, hub_id="wuhou", level="district", division="510107")
    assert cfg.pseudonym_keys_dir is not None and cfg.exchange_root is not None
    cfg.pseudonym_keys_dir.mkdir(parents=True)
    (cfg.pseudonym_keys_dir / "mib.key").write_text("", encoding="ascii")
    stage(cfg.exchange_root, persons("510107", range(5)))
    with Ledger.open(cfg.ledger_url) as ledger, pytest.raises(ConfigError,
                                                              match="pseudonym key is empty"):
        publish_pending(cfg, ledger, None)
    assert not list((tmp_path / "outbox").rglob("*.parquet"))  # no extract was written

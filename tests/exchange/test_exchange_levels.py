"""Levels: two district hubs report up (上报) to a city hub, which merges them (dedup by
key, lineage kept) and distributes division-scoped subsets down (下发). Row counts are
reconciled at every hop."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from exchange_helpers import manifest, persons, stage

from hrss_hub.cli import cli
from hrss_hub.config import HubConfig
from hrss_hub.errors import PublishError
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.levels import Upstream, merge_upstream
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import load_public_key, public_pem
from hrss_hub.exchange.versions import (
    exchange_store,
    publish_pending,
    publisher_of,
    signer_of,
)
from hrss_hub.ledger import Ledger
from hrss_hub.standard.model import load_standard

ALL_COLUMNS = {f.name: "keep" for f in entity_schema(load_standard().entity("person"))}


def _hub(base: Path, hub_id: str, level: str, division: str,
         agreements: dict[str, dict]) -> HubConfig:
    root = base / hub_id
    (root / "sharing").mkdir(parents=True)
    for name, doc in agreements.items():
        (root / "sharing" / f"{name}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                                       encoding="utf-8")
    return HubConfig(root=root, hub_id=hub_id, level=level, division=division)


def _agreement(rid: str, level: str, division: str, prefix: str | None) -> dict:
    doc = {"recipient": {"id": rid, "name": rid, "level": level, "division": division},
           "purpose": "上报/下发", "legal_basis": "社会保险法", "valid_from": "2026-01-01",
           "valid_to": "2099-12-31", "allow_raw_identifiers": True,
           "datasets": {"person": {"columns": dict(ALL_COLUMNS)}}}
    if prefix:
        doc["rows"] = {"division_prefix": prefix}
    return doc


def _publish(cfg: HubConfig, table: pa.Table) -> None:
    with Ledger.open(cfg.ledger_url) as ledger:
        assert cfg.exchange_root is not None
        stage(cfg.exchange_root, table)
        publish_pending(cfg, ledger, None)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)


def test_two_districts_report_up_city_merges_and_distributes_down(tmp_path: Path) -> None:
    up = {"city": _agreement("city-510100", "city", "510100", None)}
    wuhou = _hub(tmp_path, "wuhou", "district", "510107", up)
    jinjiang = _hub(tmp_path, "jinjiang", "district", "510104", up)
    city = _hub(tmp_path, "chengdu", "city", "510100", {
        "down-wuhou": _agreement("district-510107", "district", "510107", "510107"),
        "down-jinjiang": _agreement("district-510104", "district", "510104", "510104"),
    })
    # 50 persons in 武侯; 40 in 锦江 plus 5 who moved there from 武侯 (newer records)
    wuhou_rows = persons("510107", range(50), system="wuhou_si", updated=0)
    movers = persons("510107", range(5), system="jinjiang_si", minute=10, updated=10)
    movers = movers.set_column(movers.schema.get_field_index("address_division"),
                               movers.schema.field("address_division"),
                               pa.array(["510104"] * 5))
    jinjiang_rows = pa.concat_tables([persons("510104", range(40), system="jinjiang_si",
                                              updated=0), movers])
    _publish(wuhou, wuhou_rows)
    _publish(jinjiang, jinjiang_rows)

    # hop 1: source → published → delivered up, per district
    for cfg, source in ((wuhou, wuhou_rows), (jinjiang, jinjiang_rows)):
        published = read_version(cfg.exchange_root, "person")
        reported = read_version(cfg.root / "outbox" / "city-510100", "person")
        assert published.num_rows == reported.num_rows == source.num_rows
        assert manifest(cfg.root / "outbox" / "city-510100", 1)["direction"] == "up"

    # hop 2: the city verifies (pinned district keys) and merges both reports
    trusted_files = []
    for cfg in (wuhou, jinjiang):
        pub = tmp_path / f"{cfg.hub_id}.pub"
        pub.write_text(public_pem(signer_of(cfg).public_key))
        trusted_files.append(pub)
    standard = load_standard()
    sources = [Upstream(wuhou.root / "outbox" / "city-510100", "510107"),
               Upstream(jinjiang.root / "outbox" / "city-510100", "510104")]
    merged = merge_upstream(exchange_store(city), standard.entity("person"), sources,
                            signer=signer_of(city), publisher=publisher_of(city),
                            standard_version=standard.version,
                            trusted=[load_public_key(str(p)) for p in trusted_files])
    assert merged is not None
    assert merged.rows == 50 + 45 - 5  # the 5 movers are one person each
    city_table = read_version(city.exchange_root, "person")
    ids = city_table["citizen_id"].to_pylist()
    assert len(ids) == len(set(ids))
    moved = {r["citizen_id"]: r for r in city_table.to_pylist()
             if r["citizen_id"] in set(movers["citizen_id"].to_pylist())}
    assert {r["address_division"] for r in moved.values()} == {"510104"}
    assert {r["source_system"] for r in moved.values()} == {"jinjiang_si"}  # lineage kept
    lineage = merged.manifest["lineage"]
    assert [u["source"] for u in lineage["upstream"]] == ["510107", "510104"]
    assert lineage["systems"] == ["jinjiang_si", "wuhou_si"]
    assert lineage["merge"]["input_rows"] == 95 and lineage["merge"]["inserted"] == 90
    # merging the same reports again is a no-op
    assert merge_upstream(exchange_store(city), standard.entity("person"), sources,
                          signer=signer_of(city), publisher=publisher_of(city),
                          standard_version=standard.version) is None

    # hop 3: the city distributes division-scoped subsets down
    with Ledger.open(city.ledger_url) as ledger:
        report = publish_pending(city, ledger, None)
        assert ledger.latest_exchange_version("person") == 1
    delivered = {d.recipient: d.rows for d in report.deliveries}
    assert delivered == {"district-510107": 45, "district-510104": 45}
    assert sum(delivered.values()) == merged.rows
    down = read_version(city.root / "outbox" / "district-510107", "person")
    assert set(down["address_division"].to_pylist()) == {"510107"}
    down_manifest = manifest(city.root / "outbox" / "district-510107", 1)
    assert down_manifest["direction"] == "down"
    assert down_manifest["publisher"]["level"] == "city"  # type: ignore[index]

    # round 2: one district changes 3 persons; only those changes flow up (its outbox's
    # CDF) and down, lineage kept
    _publish(wuhou, persons("510107", range(5, 8), system="wuhou_si", run_id="w2",
                            updated=20, name="王五"))
    up_v2 = manifest(wuhou.root / "outbox" / "city-510100", 2)
    assert up_v2["operation"] == "deliver" and up_v2["source"]["version"] == 2  # type: ignore[index]
    merged2 = merge_upstream(exchange_store(city), standard.entity("person"), sources,
                             signer=signer_of(city), publisher=publisher_of(city),
                             standard_version=standard.version)
    assert merged2 is not None and merged2.rows == 90
    assert merged2.manifest["lineage"]["merge"]["candidates"] == 3
    assert merged2.manifest["lineage"]["merge"]["updated"] == 3
    upstream = merged2.manifest["lineage"]["upstream"]
    assert [(u["source"], u["version"]) for u in upstream] == [("510107", 2), ("510104", 1)]
    names = {r["citizen_id"]: r for r in read_version(city.exchange_root, "person").to_pylist()}
    changed = [r for r in names.values() if r["name"].startswith("王五")]
    assert len(changed) == 3 and {r["run_id"] for r in changed} == {"w2"}
    with Ledger.open(city.ledger_url) as ledger:
        report = publish_pending(city, ledger, None)
    down = {d.recipient: (d.status, d.changed_rows) for d in report.deliveries}
    # 510104 receives nothing (its scope saw no change) but follows the city version
    assert down == {"district-510107": ("delivered", 3), "district-510104": ("delivered", 0)}

    result = CliRunner().invoke(cli, ["verify", str(city.root / "outbox"), "--trusted-key",
                                      str(_city_pub(tmp_path, city))])
    assert result.exit_code == 0, result.output


def _city_pub(tmp_path: Path, city: HubConfig) -> Path:
    path = tmp_path / "city.pub"
    path.write_text(public_pem(signer_of(city).public_key))
    return path


def test_city_refuses_a_tampered_or_untrusted_report(tmp_path: Path) -> None:
    up = {"city": _agreement("city-510100", "city", "510100", None)}
    wuhou = _hub(tmp_path, "wuhou", "district", "510107", up)
    city = _hub(tmp_path, "chengdu", "city", "510100", {})
    _publish(wuhou, persons("510107", range(10)))
    standard = load_standard()
    source = [Upstream(wuhou.root / "outbox" / "city-510100", "510107")]
    other = _hub(tmp_path, "other", "district", "510104", {})
    with pytest.raises(PublishError, match="not a trusted key"):
        merge_upstream(exchange_store(city), standard.entity("person"), source,
                       signer=signer_of(city), publisher=publisher_of(city),
                       standard_version=standard.version,
                       trusted=[signer_of(other).public_key])
    part = next((wuhou.root / "outbox" / "city-510100" / "person").rglob("part-*.parquet"))
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(PublishError, match="failed verification"):
        merge_upstream(exchange_store(city), standard.entity("person"), source,
                       signer=signer_of(city), publisher=publisher_of(city),
                       standard_version=standard.version)
    assert not (city.exchange_root / "person" / "_delta_log").exists()  # nothing merged

"""Findings flow between levels: two district hubs report their enrollments (and their own
findings) up; the city hub finds the person actively enrolled in both districts — which
neither district can see — and delivers that finding down to both districts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hrss_test_world import REPO, cid, publish, workspace

from hrss_hub.config import HubConfig
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.levels import Upstream, merge_upstream
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.versions import (
    exchange_store,
    publish_pending,
    publisher_of,
    signer_of,
)
from hrss_hub.ledger import Ledger
from hrss_hub.standard.model import load_standard
from hrss_hub.supervision.run import supervise

TWICE = cid("510104", date(1985, 7, 7), 41)
DEAD = cid("510107", date(1960, 9, 9), 52)


def _agreement(rid: str, level: str, division: str, prefix: str | None,
               datasets: tuple[str, ...]) -> dict[str, Any]:
    standard = load_standard(REPO / "standards")
    grants = {d: {"columns": {f.name: "keep" for f in entity_schema(standard.entity(d))}}
              for d in datasets}
    doc: dict[str, Any] = {
        "recipient": {"id": rid, "name": rid, "level": level, "division": division},
        "purpose": "上报/下发 (基金监督)", "legal_basis": "社会保险法第八十八条",
        "valid_from": "2026-01-01", "valid_to": "2099-12-31", "allow_raw_identifiers": True,
        "datasets": grants}
    if prefix:
        doc["rows"] = {"division_prefix": prefix}
    return doc


def _hub(base: Path, hub_id: str, level: str, division: str,
         agreements: dict[str, dict[str, Any]]) -> HubConfig:
    cfg = workspace(base / hub_id, division=division, level=level, hub_id=hub_id)
    (cfg.root / "sharing").mkdir(parents=True, exist_ok=True)
    for name, doc in agreements.items():
        (cfg.root / "sharing" / f"{name}.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return dataclasses.replace(cfg, sharing_dir=cfg.root / "sharing")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)


def _enrol(person: str, division: str, start: date) -> dict[str, Any]:
    return {"citizen_id": person, "insurance_type": "110", "start_date": start,
            "status": "1", "division": division}


def test_city_finds_double_enrollment_and_both_districts_receive_it(tmp_path: Path) -> None:
    up = {"city": _agreement("city-510100", "city", "510100", None,
                             ("insurance_enrollment", "finding"))}
    wuhou = _hub(tmp_path, "wuhou", "district", "510107", up)
    jinjiang = _hub(tmp_path, "jinjiang", "district", "510104", up)
    city = _hub(tmp_path, "chengdu", "city", "510100", {
        "down-wuhou": _agreement("district-510107", "district", "510107", "510107",
                                 ("finding",)),
        "down-jinjiang": _agreement("district-510104", "district", "510104", "510104",
                                    ("finding",))})
    publish(wuhou, {"insurance_enrollment": [_enrol(TWICE, "510107", date(2019, 1, 1)),
                                             _enrol(DEAD, "510107", date(2010, 5, 1))],
                    "civil_status_event": [{"citizen_id": DEAD, "event_type": "01",
                                            "event_date": date(2025, 1, 20),
                                            "authority": "武侯区民政局",
                                            "division": "510107"}]}, system="wuhou_si")
    publish(jinjiang, {"insurance_enrollment": [_enrol(TWICE, "510104", date(2021, 3, 1))]},
            system="jinjiang_si")
    for district in (wuhou, jinjiang):
        with Ledger.open(district.ledger_url) as ledger:
            report = supervise(district, ledger, publish=True)
        assert report.found.get("duplicate_enrollment") == 0  # one district sees one side
    # 武侯's own finding (a deceased person still enrolled) is reported up
    reported = read_version(wuhou.root / "outbox" / "city-510100", "finding")
    assert {r["check_id"] for r in reported.to_pylist()} == {"deceased_still_enrolled"}

    standard = load_standard(city.standard_dir)
    trusted = [signer_of(d).public_key for d in (wuhou, jinjiang)]
    for dataset in ("insurance_enrollment", "finding"):
        merge_upstream(exchange_store(city), standard.entity(dataset),
                       [Upstream(wuhou.root / "outbox" / "city-510100", "510107"),
                        Upstream(jinjiang.root / "outbox" / "city-510100", "510104")],
                       signer=signer_of(city), publisher=publisher_of(city),
                       standard_version=standard.version, trusted=trusted)
    with Ledger.open(city.ledger_url) as ledger:
        report = supervise(city, ledger, publish=True)
    assert report.found["duplicate_enrollment"] == 1
    assert city.exchange_root is not None
    at_city = read_version(city.exchange_root, "finding").to_pylist()
    dup = [r for r in at_city if r["check_id"] == "duplicate_enrollment"]
    assert sorted(r["division"] for r in dup) == ["510104", "510107"]
    assert any(r["check_id"] == "deceased_still_enrolled" for r in at_city)  # merged up
    # 下发: each district's outbox at the city holds the finding, under the same id
    got = {}
    for division in ("510107", "510104"):
        rows = read_version(city.root / "outbox" / f"district-{division}", "finding").to_pylist()
        got[division] = {r["finding_id"] for r in rows if r["check_id"] == "duplicate_enrollment"}
        assert {r["division"] for r in rows} == {division}
    assert got["510107"] == got["510104"] == {dup[0]["finding_id"]}
    # and each district takes it in: merged from the city's delivery into its own exchange
    city_key = [signer_of(city).public_key]
    for district, division in ((wuhou, "510107"), (jinjiang, "510104")):
        merge_upstream(exchange_store(district), standard.entity("finding"),
                       [Upstream(city.root / "outbox" / f"district-{division}", "510100")],
                       signer=signer_of(district), publisher=publisher_of(district),
                       standard_version=standard.version, trusted=city_key)
        assert district.exchange_root is not None
        mine = read_version(district.exchange_root, "finding").to_pylist()
        assert {r["finding_id"] for r in mine
                if r["check_id"] == "duplicate_enrollment"} == got[division]


def _person(person: str, name: str, phone: str) -> dict[str, Any]:
    return {"citizen_id": person, "citizen_id_raw": person, "id_type": "01", "name": name,
            "gender": "1" if int(person[16]) % 2 else "2",
            "birth_date": date(int(person[6:10]), int(person[10:12]), int(person[12:14])),
            "phone": phone, "address_division": person[:6]}


def test_city_master_holds_the_persons_its_districts_report_up(tmp_path: Path) -> None:
    from hrss_hub.master.build import build_master

    up = {"city": _agreement("city-510100", "city", "510100", None, ("person",))}
    wuhou = _hub(tmp_path, "wuhou", "district", "510107", up)
    jinjiang = _hub(tmp_path, "jinjiang", "district", "510104", up)
    city = _hub(tmp_path, "chengdu", "city", "510100", {})
    publish(wuhou, {"person": [_person(DEAD, "王芳", "13800000001")]}, system="wuhou_si")
    publish(jinjiang, {"person": [_person(TWICE, "李强", "13800000002")]},
            system="jinjiang_si")
    standard = load_standard(city.standard_dir)
    merge_upstream(exchange_store(city), standard.entity("person"),
                   [Upstream(wuhou.root / "outbox" / "city-510100", "510107"),
                    Upstream(jinjiang.root / "outbox" / "city-510100", "510104")],
                   signer=signer_of(city), publisher=publisher_of(city),
                   standard_version=standard.version,
                   trusted=[signer_of(d).public_key for d in (wuhou, jinjiang)])
    with Ledger.open(city.ledger_url) as ledger:
        # the city staged no person record itself: the master comes from what was merged up
        run_id = ledger.start_run(city.hub_id, "cli")
        first = build_master(city, ledger, run_id=run_id)
        publish_pending(city, ledger, _Run(run_id))
        ledger.finish_run(run_id, "succeeded", {})
        run_id = ledger.start_run(city.hub_id, "cli")
        again = build_master(city, ledger, run_id=run_id)
        ledger.finish_run(run_id, "succeeded", {})
    assert (first.unlinked, first.staged_persons) == (2, 2)
    assert (again.unlinked, again.staged_links, again.staged_persons) == (0, 0, 0)
    assert city.exchange_root is not None
    master = {r["citizen_id"]: r for r in read_version(city.exchange_root,
                                                        "person_master").to_pylist()}
    assert {p: (r["systems"], r["division"]) for p, r in master.items()} == {
        DEAD: ("wuhou_si", "510107"), TWICE: ("jinjiang_si", "510104")}


@dataclass(frozen=True)
class _Run:
    run_id: str

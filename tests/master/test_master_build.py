"""The person master over records of several systems: survivorship with its sources,
15-digit links, folded-name conflicts, incremental rebuilds, 一人多号 to the steward queue."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hrss_test_world import cid, run_publish_step, stage, workspace

from hrss_hub.config import HubConfig
from hrss_hub.exchange.reading import read_version
from hrss_hub.ledger import Ledger
from hrss_hub.master.hooks import publish_run
from hrss_hub.master.review import ReviewStore
from hrss_hub.supervision.lifecycle import FindingStore

SAME = cid("510107", date(1970, 1, 1), 11)  # 陳國華 in si_core, 陈国华 elsewhere: no conflict
BIRTH = cid("510107", date(1980, 5, 5), 21)  # birth date differs between systems
LEGACY = cid("510107", date(1965, 2, 3), 31)  # si_core still holds the 15-digit number
TWIN_A = cid("510104", date(1988, 8, 8), 41)  # one person under two numbers (一人多号)
TWIN_B = cid("510104", date(1988, 8, 8), 43)


@dataclass(frozen=True)
class _Run:
    run_id: str


def _person(person: str, name: str, gender: str, born: date, phone: str | None,
            updated: datetime, raw: str | None = None) -> dict[str, Any]:
    return {"citizen_id": person, "citizen_id_raw": raw or person, "id_type": "01",
            "name": name, "gender": gender, "birth_date": born, "phone": phone,
            "address_division": person[:6], "source_updated_at": updated}


T1, T2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
SI = [_person(SAME, "陳國華", "1", date(1970, 1, 1), "13800000001", T1),
      _person(BIRTH, "李强", "1", date(1980, 5, 5), "13800000002", T1),
      _person(LEGACY, "王芳", "1", date(1965, 2, 3), None, T1,
              raw=LEGACY[:6] + LEGACY[8:17]),
      _person(TWIN_A, "张伟", "1", date(1988, 8, 8), "13900000009", T1)]
EMPLOYMENT = [_person(SAME, "陈国华", "1", date(1970, 1, 1), "13800000099", T2),
              _person(BIRTH, "李强", "1", date(1980, 5, 6), None, T2),
              _person(TWIN_B, "张伟", "1", date(1988, 8, 8), "13900000009", T2)]


def _run(cfg: HubConfig, batches: list[tuple[str, list[dict[str, Any]]]]) -> Any:
    return run_publish_step(cfg, batches)


@pytest.fixture
def cfg(tmp_path: Path) -> HubConfig:
    base = workspace(tmp_path / "hub")
    return dataclasses.replace(base, master={"survivorship": {"name": ["si_core"]},
                                             "review_threshold": 0.9})


def test_master_rows_survivorship_sources_and_links(cfg: HubConfig) -> None:
    report = _run(cfg, [("si_core", SI), ("employment", EMPLOYMENT)])
    assert report.master["records"] == 7 and report.master["persons"] == 5
    assert cfg.exchange_root is not None
    master = {r["citizen_id"]: r for r in read_version(cfg.exchange_root,
                                                        "person_master").to_pylist()}
    assert set(master) == {SAME, BIRTH, LEGACY, TWIN_A, TWIN_B}
    same = master[SAME]
    # name: si_core first by configuration; phone: no precedence, the most recent record
    assert (same["name"], same["name_source"]) == ("陳國華", "si_core")
    assert (same["phone"], same["phone_source"]) == ("13800000099", "employment")
    assert same["conflicts"] is None  # 陳國華 = 陈国华 once folded
    assert same["systems"] == "employment,si_core" and same["records"] == 2
    assert master[BIRTH]["conflicts"] == "birth_date"
    # birth date: unlisted systems by name (employment before si_core)
    assert master[BIRTH]["birth_date_source"] == "employment"
    links = read_version(cfg.exchange_root, "person_link").to_pylist()
    assert len(links) == 7
    rule = {(r["record_system"], r["citizen_id"]): r["link_rule"] for r in links}
    assert rule[("si_core", LEGACY)] == "id15" and rule[("si_core", SAME)] == "id18"


def test_second_build_stages_nothing_and_a_change_restages_one_person(cfg: HubConfig) -> None:
    _run(cfg, [("si_core", SI), ("employment", EMPLOYMENT)])
    again = _run(cfg, [("si_core", SI)])
    assert again.master["staged_persons"] == 0 and again.master["staged_links"] == 0
    # the published records are all linked as they are: a run staging nothing links nothing
    idle = _run(cfg, [])
    assert (idle.master["unlinked"], idle.master["staged_links"]) == (0, 0)
    # si_core corrects the birth date of its record (the same source key)
    moved = [dict(SI[1], birth_date=date(1980, 5, 6), source_key="si_core|person|1")]
    fixed = _run(cfg, [("si_core", moved)])
    assert fixed.master["staged_persons"] == 1 and fixed.master["staged_links"] == 1
    assert cfg.exchange_root is not None
    master = {r["citizen_id"]: r for r in read_version(cfg.exchange_root,
                                                        "person_master").to_pylist()}
    assert master[BIRTH]["conflicts"] is None


def test_identity_conflicts_become_findings_and_twins_go_to_review(cfg: HubConfig) -> None:
    report = _run(cfg, [("si_core", SI), ("employment", EMPLOYMENT)])
    assert report.supervision["found"]["identity_conflict"] == 1
    with Ledger.open(cfg.ledger_url) as ledger:
        conflicts = FindingStore(ledger).all(check="identity_conflict")
        assert len(conflicts) == 1
        queue = ReviewStore(ledger).all("pending")
    refs = {(q.left.split("|")[1], q.right.split("|")[1]) for q in queue}
    assert len(queue) == 1, queue
    assert refs <= {("si_core", "employment"), ("employment", "si_core")}
    pair = queue[0]
    assert pair.probability >= 0.9 and set(pair.explanation["weights"]) >= {"name_folded",
                                                                             "phone"}
    assert TWIN_A not in str(pair) and TWIN_B not in str(pair)  # records, never IDs


def test_review_cli_accept_merges_and_audits(cfg: HubConfig) -> None:
    from click.testing import CliRunner
    from hrss_test_world import REPO

    from hrss_hub.cli import cli

    (cfg.root / "hub.yaml").write_text(
        (cfg.root / "hub.yaml").read_text(encoding="utf-8")
        + f"supervision: {REPO / 'supervision'}\nmaster:\n  review_threshold: 0.9\n",
        encoding="utf-8")
    _run(cfg, [("si_core", SI), ("employment", EMPLOYMENT)])
    runner = CliRunner()
    conf = ["--config", str(cfg.root / "hub.yaml")]
    env = {"HRSS_HUB_STANDARDS": str(REPO / "standards")}
    listed = runner.invoke(cli, ["master", "review", "list", "--json", *conf], env=env)
    assert listed.exit_code == 0, listed.output
    pairs = json.loads(listed.output)
    assert len(pairs) == 1 and TWIN_A not in listed.output
    done = runner.invoke(cli, ["master", "review", "accept", pairs[0]["id"], "--by", "李核查",
                               "--reason", "户籍核实为同一人", *conf], env=env)
    assert done.exit_code == 0, done.output
    rebuilt = runner.invoke(cli, ["master", "build", "--full", *conf], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert cfg.exchange_root is not None
    master = {r["citizen_id"]: r for r in read_version(cfg.exchange_root,
                                                        "person_master").to_pylist()}
    merged = {master[TWIN_A]["merged_into"], master[TWIN_B]["merged_into"]}
    assert merged in ({None, TWIN_A}, {None, TWIN_B})
    with Ledger.open(cfg.ledger_url) as ledger:
        assert ledger.audit_subjects("master_review_accept") == {pairs[0]["id"]}
        assert ledger.verify_audit() == []
        assert ReviewStore(ledger).all("pending") == []
    again = runner.invoke(cli, ["master", "review", "reject", pairs[0]["id"], "--by", "x",
                                "--reason", "y", *conf], env=env)
    assert again.exit_code != 0 and "already accepted" in str(again.exception)


def _quarantine(cfg: HubConfig, run_id: str, system: str, key: str,
                row: dict[str, Any]) -> None:
    """The quarantine file the row gate writes for one person record whose citizen ID is
    missing (the record's mapped row as JSON, as the gate encodes it)."""
    import pyarrow as pa

    from hrss_hub.quality.gate import QUARANTINE_SCHEMA, _json_records
    from hrss_hub.quality.reprocess import quarantine_path
    from hrss_hub.quality.spool import QuarantineSpool

    assert cfg.quarantine_dir is not None
    record = _json_records({k: pa.array([v]) for k, v in row.items()})
    spool = QuarantineSpool(quarantine_path(cfg.quarantine_dir, run_id, system, "persons"))
    spool.add(pa.table({
        "run_id": [run_id], "system": [system], "stream": ["persons"], "entity": ["person"],
        "source_key": [key], "location": [None], "rules": [["required"]],
        "fields": [["citizen_id"]], "offending_values": [[None]], "record": record},
        schema=QUARANTINE_SCHEMA))
    spool.close()


def test_a_record_without_id_is_a_candidate_and_an_accepted_pair_links_it(
        cfg: HubConfig) -> None:
    from hrss_hub.master.build import build_master

    unnamed = {k: v for k, v in _person(TWIN_A, "张伟", "1", date(1988, 8, 8), "13900000009",
                                        T2).items() if k not in ("citizen_id", "source_updated_at")}
    unnamed["citizen_id_raw"] = None
    with Ledger.open(cfg.ledger_url) as ledger:
        run_id = ledger.start_run(cfg.hub_id, "cli")
        stage(cfg, {"person": SI}, run_id=run_id, system="si_core", tag="si")
        # the employment system's record has no citizen ID: the row gate quarantined it
        _quarantine(cfg, run_id, "employment", "E-77", unnamed)
        report = publish_run(cfg, ledger, _Run(run_id))
        ledger.finish_run(run_id, "succeeded", {})
        assert report.linkage["candidates"] == 2  # the record and its partner, no one else
        queue = ReviewStore(ledger).all("pending")
        assert [sorted((q.left, q.right)) for q in queue] == [
            ["person|employment|E-77", "person|si_core|" + _key_of(cfg, TWIN_A)]]
        assert queue[0].probability >= 0.9
        ReviewStore(ledger).decide(queue[0].id, True, actor="李核查", reason="户籍核实为同一人")
        run_id = ledger.start_run(cfg.hub_id, "cli")
        built = build_master(cfg, ledger, run_id=run_id)
        assert built.adopted == 1 and built.staged_links == 1
        publish_run(cfg, ledger, _Run(run_id))
        ledger.finish_run(run_id, "succeeded", {})
        assert ReviewStore(ledger).all("pending") == []  # linked now: not proposed again
    assert cfg.exchange_root is not None
    links = [r for r in read_version(cfg.exchange_root, "person_link").to_pylist()
             if r["record_system"] == "employment"]
    assert [(r["record_key"], r["citizen_id"], r["link_rule"]) for r in links] == [
        ("E-77", TWIN_A, "steward")]
    master = {r["citizen_id"]: r for r in read_version(cfg.exchange_root,
                                                        "person_master").to_pylist()}
    assert master[TWIN_A]["systems"] == "employment,si_core"


def _key_of(cfg: HubConfig, person: str) -> str:
    assert cfg.exchange_root is not None
    rows = read_version(cfg.exchange_root, "person_link").to_pylist()
    return next(r["record_key"] for r in rows if r["citizen_id"] == person)

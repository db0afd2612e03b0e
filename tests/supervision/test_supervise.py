"""Supervision checks over a small published world: every planted case found and nothing
else, stable ids across runs, a fixed case resolved, steward decisions audited."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hrss_test_world import REPO, cid, publish, workspace

from hrss_hub.cli import cli, main
from hrss_hub.config import HubConfig
from hrss_hub.errors import ConfigError
from hrss_hub.exchange.reading import read_version
from hrss_hub.ledger import Ledger
from hrss_hub.supervision.lifecycle import FindingStore
from hrss_hub.supervision.run import supervise
from hrss_hub.supervision.spec import load_checks

DEAD = cid("510107", date(1950, 3, 1), 11)  # died 2025-03-10, pension still paid
PRISONER = cid("510107", date(1958, 6, 2), 23)  # prison 2025-02-01 … 2025-05-15
WORKER = cid("510107", date(1990, 1, 5), 31)  # unemployment benefit while contributing
TWICE = cid("510104", date(1985, 7, 7), 41)  # enrolled in 510107 and 510104
DEAD_ENROLLED = cid("510107", date(1960, 9, 9), 52)  # died, enrollment still active
CLEAN = cid("510107", date(1955, 1, 1), 61)  # pension, all in order


def _pay(person: str, btype: str, period: str, amount: float, serial: str = "1",
         division: str = "510107") -> dict[str, Any]:
    return {"citizen_id": person, "benefit_type": btype, "period": period,
            "payment_serial": serial, "amount": amount, "division": division}


def _enrol(person: str, division: str, start: date, status: str = "1",
           end: date | None = None, ins: str = "110") -> dict[str, Any]:
    return {"citizen_id": person, "insurance_type": ins, "start_date": start, "end_date": end,
            "status": status, "division": division}


def _event(person: str, etype: str, day: date) -> dict[str, Any]:
    return {"citizen_id": person, "event_type": etype, "event_date": day,
            "authority": "成都市公安局武侯区分局", "division": "510107"}


def world() -> dict[str, list[dict[str, Any]]]:
    pays = [_pay(DEAD, "101", p, 3000) for p in ("202503", "202504", "202505")]
    pays += [_pay(PRISONER, "101", p, 2800) for p in ("202502", "202503", "202504", "202505")]
    pays += [_pay(WORKER, "201", p, 1900) for p in ("202503", "202504")]
    pays += [_pay(CLEAN, "101", p, 2500) for p in ("202503", "202504", "202505")]
    pays.append(_pay(CLEAN, "101", "202505", 300, serial="2"))  # 补发: no duplicate, no finding
    return {
        "benefit_payment": pays,
        "civil_status_event": [_event(DEAD, "01", date(2025, 3, 10)),
                               _event(PRISONER, "03", date(2025, 2, 1)),
                               _event(PRISONER, "04", date(2025, 5, 15)),
                               _event(DEAD_ENROLLED, "01", date(2025, 1, 20))],
        "contribution": [{"citizen_id": WORKER, "employer_uscc": "91510107MA61RL6X4D",
                          "insurance_type": "110", "period": "202504", "base": 6000,
                          "personal_amount": 480, "employer_amount": 960,
                          "division": "510107"}],
        "employment": [{"citizen_id": CLEAN, "employer_uscc": "91510107MA61RL6X4D",
                        "start_date": date(2000, 1, 1), "end_date": date(2015, 1, 1),
                        "division": "510107"}],
        "insurance_enrollment": [_enrol(TWICE, "510107", date(2019, 1, 1)),
                                 _enrol(TWICE, "510104", date(2021, 3, 1)),
                                 _enrol(DEAD_ENROLLED, "510107", date(2010, 5, 1)),
                                 _enrol(CLEAN, "510107", date(2000, 1, 1), status="3",
                                        end=date(2015, 1, 1))],
    }


EXPECTED = {("benefit_after_death", DEAD), ("pension_during_imprisonment", PRISONER),
            ("unemployment_while_employed", WORKER), ("duplicate_enrollment", TWICE),
            ("deceased_still_enrolled", DEAD_ENROLLED)}


@pytest.fixture
def cfg(tmp_path: Path) -> HubConfig:
    c = workspace(tmp_path / "hub")
    publish(c, world())
    return c


def _found(cfg: HubConfig) -> set[tuple[str, str]]:
    assert cfg.exchange_root is not None
    rows = read_version(cfg.exchange_root, "finding").to_pylist()
    with Ledger.open(cfg.ledger_url) as ledger:
        status = {f.id: f.status for f in FindingStore(ledger).all()}
    return {(r["check_id"], r["citizen_id"]) for r in rows if status[r["finding_id"]] != "resolved"}


def test_every_planted_case_is_found_and_nothing_else(cfg: HubConfig) -> None:
    with Ledger.open(cfg.ledger_url) as ledger:
        report = supervise(cfg, ledger)
    assert report.skipped == {"identity_conflict": ["person_master", "person_link"]}
    assert _found(cfg) == EXPECTED
    assert report.changes.counts()["new"] == len(EXPECTED)
    assert cfg.exchange_root is not None
    rows = read_version(cfg.exchange_root, "finding").to_pylist()
    death = next(r for r in rows if r["check_id"] == "benefit_after_death")
    periods = sorted(e["period"] for e in json.loads(death["evidence"]))
    assert periods == ["202504", "202505"]  # the month of death itself is due
    prison = next(r for r in rows if r["check_id"] == "pension_during_imprisonment")
    assert sorted(e["period"] for e in json.loads(prison["evidence"])) == ["202503", "202504"]
    # the duplicate enrollment is one finding delivered to both districts
    dup = sorted(r["division"] for r in rows if r["check_id"] == "duplicate_enrollment")
    assert dup == ["510104", "510107"]


def test_second_run_adds_nothing_and_a_fix_resolves_its_finding(cfg: HubConfig) -> None:
    with Ledger.open(cfg.ledger_url) as ledger:
        first = supervise(cfg, ledger)
        ids = {f.id for f in FindingStore(ledger).all()}
        again = supervise(cfg, ledger)
        assert again.changes.counts() == {"new": 0, "seen": len(EXPECTED), "reopened": 0,
                                          "resolved": 0}
        assert {f.id for f in FindingStore(ledger).all()} == ids
        assert again.staged_rows == 0 or again.staged_rows <= first.staged_rows
    # the source fixes two cases: the enrollment ends at the death, the payments are recovered
    publish(cfg, {"insurance_enrollment": [_enrol(DEAD_ENROLLED, "510107", date(2010, 5, 1),
                                                  status="3", end=date(2025, 1, 20))],
                  "benefit_payment": [_pay(DEAD, "101", p, -3000, serial="2")
                                      for p in ("202504", "202505")]}, tag="fix")
    with Ledger.open(cfg.ledger_url) as ledger:
        fixed = supervise(cfg, ledger)
        assert fixed.changes.counts()["resolved"] == 2 and fixed.changes.counts()["new"] == 0
        resolved = {f.check_id for f in FindingStore(ledger).all(status="resolved")}
    assert resolved == {"deceased_still_enrolled", "benefit_after_death"}
    assert _found(cfg) == EXPECTED - {("deceased_still_enrolled", DEAD_ENROLLED),
                                      ("benefit_after_death", DEAD)}


def test_findings_cli_lists_masked_and_audits_decisions(cfg: HubConfig) -> None:
    runner = CliRunner()
    conf = str(cfg.root / "hub.yaml")
    env = {"HRSS_HUB_STANDARDS": str(REPO / "standards")}
    (cfg.root / "hub.yaml").write_text((cfg.root / "hub.yaml").read_text(encoding="utf-8")
                                       + f"supervision: {REPO / 'supervision'}\n",
                                       encoding="utf-8")
    out = runner.invoke(cli, ["supervise", "--config", conf], env=env)
    assert out.exit_code == 0, out.output
    assert "benefit_after_death: 1 finding(s)" in out.output
    listed = runner.invoke(cli, ["findings", "list", "--json", "--config", conf], env=env)
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.output)
    assert {i["check"] for i in items} == {c for c, _ in EXPECTED}
    assert all(i["evidence"] and i["title_zh"] for i in items)
    for person in (DEAD, PRISONER, WORKER, TWICE, DEAD_ENROLLED):
        assert person not in listed.output  # identifiers masked
    target = next(i["id"] for i in items if i["check"] == "benefit_after_death")
    done = runner.invoke(cli, ["findings", "dismiss", target, "--by", "王审核",
                               "--reason", "死亡日期登记有误", "--config", conf], env=env)
    assert done.exit_code == 0, done.output
    with Ledger.open(cfg.ledger_url) as ledger:
        info = FindingStore(ledger).get(target)
        assert info is not None and info.status == "dismissed"
        assert ledger.audit_subjects("finding_dismiss") == {target}
        assert ledger.verify_audit() == []
        events = FindingStore(ledger).events(target)
        assert events[-1]["actor"] == "王审核" and events[-1]["reason"] == "死亡日期登记有误"
        # the steward's decision survives the next run
        supervise(cfg, ledger)
        again = FindingStore(ledger).get(target)
        assert again is not None and again.status == "dismissed"
    bad = runner.invoke(cli, ["findings", "confirm", "Fnope", "--by", "x", "--reason", "y",
                              "--config", conf], env=env)
    assert bad.exit_code != 0 and "no finding 'Fnope'" in str(bad.exception)


def test_adding_a_check_is_one_yaml_file(tmp_path: Path) -> None:
    folder = tmp_path / "checks"
    shutil.copytree(REPO / "supervision", folder)
    (folder / "large_payment.yaml").write_text("""\
id: large_payment
title_zh: 大额待遇发放
title_en: Large benefit payment
severity: low
legal_basis: 《社会保险基金行政监督办法》
uses: [benefit_payment]
key: [citizen_id, period]
evidence: [amount]
sql: |
  SELECT citizen_id, division, source_system, source_key, period, amount
  FROM benefit_payment WHERE amount >= 2900
""", encoding="utf-8")
    cfg = workspace(tmp_path / "hub")
    cfg = HubConfig(root=cfg.root, hub_id=cfg.hub_id, division=cfg.division, level=cfg.level,
                    standard_dir=cfg.standard_dir, supervision_dir=folder)
    publish(cfg, world())
    with Ledger.open(cfg.ledger_url) as ledger:
        report = supervise(cfg, ledger)
    # DEAD 3 months at 3000 (3 findings), PRISONER none (2800)
    assert report.found["large_payment"] == 3


def test_bad_check_files_are_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad_one.yaml").write_text("id: bad_one\ntitle_zh: x\ntitle_en: x\n"
                                           "severity: huge\nlegal_basis: x\nuses: [nope]\n"
                                           "key: [period]\nevidence: []\nsql: SELECT 1\n",
                                           encoding="utf-8")
    (tmp_path / "other.yaml").write_text("id: not_other\ntitle_zh: x\ntitle_en: x\n"
                                         "severity: low\nlegal_basis: x\nuses: [nope]\n"
                                         "key: [citizen_id]\nevidence: []\nsql: SELECT 1\n",
                                         encoding="utf-8")
    (tmp_path / "no_person.yaml").write_text("id: no_person\ntitle_zh: x\ntitle_en: x\n"
                                             "severity: low\nlegal_basis: x\n"
                                             "uses: [benefit_payment]\nkey: [period]\n"
                                             "evidence: []\nsql: SELECT 1\n",
                                             encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_checks(tmp_path, frozenset({"benefit_payment"}))
    text = str(err.value)
    assert "bad_one.yaml" in text and "unknown severity 'huge'" in text
    assert "no_person.yaml" in text and "key must include citizen_id" in text
    assert "other.yaml" in text and "differs from the file name" in text
    assert "unknown dataset 'nope'" in text and "line=6" in text


def test_report_has_a_supervision_section_with_masked_evidence(cfg: HubConfig) -> None:
    from hrss_hub.quality.report import build_report_data, render_html

    with Ledger.open(cfg.ledger_url) as ledger:
        supervise(cfg, ledger)
    data = build_report_data(cfg)
    sup = data["supervision"]
    by_check = {c["id"]: c for c in sup["checks"]}
    assert by_check["benefit_after_death"]["open"] == 1
    assert by_check["duplicate_enrollment"]["open"] == 1
    assert by_check["identity_conflict"]["open"] == 0
    assert sup["open"] == len(EXPECTED) and sup["trend"][-1]["found"] == len(EXPECTED)
    assert len(sup["drill_down"]) == len(EXPECTED)
    page = render_html(data)
    assert "Supervision findings" in page and "死亡后仍领取待遇" in page
    for person in (DEAD, PRISONER, WORKER, TWICE, DEAD_ENROLLED):
        assert person not in page and person not in json.dumps(sup, ensure_ascii=False)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_supervise_names_a_checks_folder_without_checks_and_exits_2(
        cfg: HubConfig, tmp_path: Path, make: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "no-checks"
    if make == "empty":
        folder.mkdir()
    conf = cfg.root / "hub.yaml"
    conf.write_text(conf.read_text(encoding="utf-8") + f"supervision: {folder}\n",
                    encoding="utf-8")
    monkeypatch.setenv("HRSS_HUB_STANDARDS", str(REPO / "standards"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:  # as the console script runs it
            code = main(["supervise", "--json", "--config", str(conf)])
        except SystemExit as exc:
            code = exc.code
    assert code == 2, out.getvalue()
    error = json.loads(out.getvalue())
    assert str(folder) in error["error"] and "supervision:" in error["hint"]
    # after a run the checks are not required: the run goes on and its report says why
    # nothing was checked
    bare = HubConfig(root=cfg.root, hub_id=cfg.hub_id, division=cfg.division,
                     level=cfg.level, standard_dir=cfg.standard_dir, supervision_dir=folder)
    with Ledger.open(bare.ledger_url) as ledger:
        run_id = ledger.start_run(bare.hub_id, "cli")
        report = supervise(bare, ledger, run_id=run_id)
    assert report.ran == [] and str(folder) in (report.to_dict()["warning"])

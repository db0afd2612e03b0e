"""Acceptance on the demo world: every planted supervision case is found and nothing else
(precision and recall 100% against the answer key), a second run adds no finding, and fixing
a case in the source system resolves its finding on the next run."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hrss_test_world import REPO

from hrss_hub.demo.generator import demo_token, generate_world
from hrss_hub.demo.server import start_server
from hrss_hub.demo.supervision_world import subject
from hrss_hub.demo_tour import compare_findings
from hrss_hub.ledger import Ledger
from hrss_hub.supervision.lifecycle import FindingStore

pytestmark = pytest.mark.slow


def test_demo_cases_found_exactly_stable_and_resolved_by_a_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.config import load_config
    from hrss_hub.pipeline import run

    root = tmp_path / "demo"
    key = generate_world(root, persons=600, seed=5)
    assert all(key["supervision"][c] for c in key["supervision"] if c != "duplicate_enrollment")
    monkeypatch.setenv("HRSS_DEMO_API_TOKEN", demo_token(root))
    monkeypatch.setenv("HRSS_HUB_SUPERVISION", str(REPO / "supervision"))
    monkeypatch.delenv("HRSS_HUB_LEDGER_URL", raising=False)
    with start_server(root) as srv:
        monkeypatch.setenv("HRSS_DEMO_API_URL", srv.url)
        cfg = load_config(root / "hub.yaml")
        first = run(cfg)
        assert not first.failed
        with Ledger.open(cfg.ledger_url) as ledger:
            assert compare_findings(cfg, ledger, key) == []
            ids = {f.id for f in FindingStore(ledger).all()}
        run(cfg)  # no new source data
        with Ledger.open(cfg.ledger_url) as ledger:
            assert {f.id for f in FindingStore(ledger).all()} == ids
            assert compare_findings(cfg, ledger, key) == []
        # si_core recovers (追回) the pensions paid after one death: negative serial-2 rows
        dead = _case_person(root, key, "benefit_after_death")
        con = sqlite3.connect(root / "sources" / "si_core.db")
        with con:
            paid = con.execute("SELECT AAC001, AAC002, AAE140, AAA036, AAE002, AAE019 FROM AC63 "
                               "WHERE (upper(AAC002) = ? OR AAC002 = ?) AND AAE002 > '202503'",
                               (dead, dead[:6] + dead[8:17])).fetchall()
            assert paid
            top = con.execute("SELECT max(id) FROM AC63").fetchone()[0]
            con.executemany("INSERT INTO AC63 VALUES (?, ?, ?, ?, ?, ?, '2', ?, "
                            "'2025-08-01T09:00:00')",
                            [(top + i + 1, *r[:5], -r[5]) for i, r in enumerate(paid)])
        con.close()
        run(cfg)
        with Ledger.open(cfg.ledger_url) as ledger:
            fixed = {c: list(v) for c, v in key["supervision"].items()}
            fixed["benefit_after_death"].remove(subject(dead))
            assert compare_findings(cfg, ledger, {"supervision": fixed}) == []
            resolved = FindingStore(ledger).all(status="resolved")
            assert [f.check_id for f in resolved] == ["benefit_after_death"]


def _case_person(root: Path, key: dict[str, Any], check: str) -> str:
    """The 18-digit ID of one planted case of ``check`` (from the civil register)."""
    wanted = set(key["supervision"][check])
    for csv_file in sorted((root / "sources" / "civil_register").glob("*.csv")):
        for line in csv_file.read_text(encoding="utf-8").splitlines()[1:]:
            cid = line.split(",")[0]
            if subject(cid) in wanted:
                return cid
    raise AssertionError(f"no {check} case in the civil register")

"""The generated demo world: determinism, answer-key consistency, file formats, and an
independent check of every planted identifier."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from hrss_hub.demo.checks import (
    citizen_id_check_char,
    citizen_id_is_valid,
    org_code_check_char,
    upgrade_citizen_id,
    uscc_check_char,
    uscc_is_valid,
)
from hrss_hub.demo.generator import SYSTEMS, generate_world

from .conftest import PERSONS, SEED

#: streams of the supervision world: clean by design (their cases are findings, not defects)
CLEAN_STREAMS = ("AC63", "JC09", "events")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _key(root: Path, name: str = "answer_key.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / name).read_text(encoding="utf-8"))
    return data


def _norm_id(raw: str) -> str | None:
    """Independent normalization: NFKC (full-width), upper case, 15 → 18 digits."""
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    if len(text) == 15 and text.isdigit():
        return upgrade_citizen_id(text)
    return text


# --------------------------------------------------------------------------- algorithms


def test_check_char_algorithms_match_published_examples() -> None:
    assert citizen_id_check_char("11010519491231002") == "X"
    assert citizen_id_check_char("34052419800101001") == "X"
    assert citizen_id_is_valid("440524188001010014")
    assert upgrade_citizen_id("610104620927690") == "610104196209276908"
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert org_code_check_char("M000100Y") == "4"
    assert uscc_is_valid("91350100M000100Y43")
    assert not uscc_is_valid("91350100M000100Y44")


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(again, persons=PERSONS, seed=SEED)
    assert _hashes(again) == _hashes(world)


def test_other_seed_gives_other_world(world: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate_world(other, persons=PERSONS, seed=SEED + 1)
    assert _key(other)["systems"] != _key(world)["systems"]


def test_refuses_non_empty_directory(world: Path) -> None:
    from hrss_hub.errors import ConfigError

    with pytest.raises(ConfigError, match="not empty"):
        generate_world(world, persons=10, seed=1)


# --------------------------------------------------------------------------- answer key


def test_answer_key_is_consistent(world: Path) -> None:
    key = _key(world)
    assert key["seed"] == SEED and key["persons"] == PERSONS
    assert key["generated_with"].startswith("hrss-hub ")
    assert set(key["systems"]) == set(SYSTEMS)
    for system, streams in key["systems"].items():
        assert set(streams) == set(SYSTEMS[system])
        for stream, s in streams.items():
            assert s["entity"] == SYSTEMS[system][stream]
            assert s["read"] == s["published"] + s["quarantined_rows"] + s["filtered"], stream
            assert s["quarantined_rows"] == sum(s["quarantined"].values()), stream
            assert s["published"] > 0, stream
            if stream not in CLEAN_STREAMS:
                assert s["quarantined_rows"] > 0, stream
    persons = key["systems"]["si_core"]["AC01"]["published"]
    assert persons < key["distinct"]["persons"] <= PERSONS
    assert key["distinct"]["employers"] == key["systems"]["si_core"]["AB01"]["published"]


def test_read_counts_match_the_sources(world: Path) -> None:
    key = _key(world)["systems"]
    con = sqlite3.connect(world / "sources" / "si_core.db")
    try:
        for table in ("AB01", "AC01", "AC02", "AC43"):
            (n,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert n == key["si_core"][table]["read"], table
    finally:
        con.close()
    for stream in ("persons", "registrations"):
        n = len(json.loads((world / "sources/employment" / f"{stream}_000.json").read_text()))
        assert n == key["employment"][stream]["read"]
    lines = sum(len(p.read_bytes().splitlines()) - 1
                for p in (world / "sources/contracts").glob("*.csv"))
    assert lines == key["contracts"]["filings"]["read"]
    wb = openpyxl.load_workbook(world / "sources/personnel/花名册.xlsx", read_only=True)
    rows = wb["花名册"].max_row - 2
    assert rows == key["personnel"]["roster"]["read"]


# --------------------------------------------------------------------------- identifiers


def _ids_and_usccs(world: Path) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(system, stream) → (non-empty raw citizen IDs, non-empty raw USCCs) of parsed rows."""
    out: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    con = sqlite3.connect(world / "sources" / "si_core.db")
    try:
        out["si_core", "AB01"] = ([], [r[0] for r in con.execute("SELECT AAB998 FROM AB01")])
        out["si_core", "AC01"] = ([r[0] for r in con.execute("SELECT AAC002 FROM AC01")], [])
    finally:
        con.close()
    emp = world / "sources" / "employment"
    persons = json.loads((emp / "persons_000.json").read_text(encoding="utf-8"))
    regs = json.loads((emp / "registrations_000.json").read_text(encoding="utf-8"))
    out["employment", "persons"] = ([r["idNo"] for r in persons], [])
    out["employment", "registrations"] = ([r["idNo"] for r in regs],
                                          [r["employerCreditCode"] for r in regs])
    ids, usccs = [], []
    for path in sorted((world / "sources" / "contracts").glob("*.csv")):
        for line in path.read_bytes().splitlines()[1:]:
            try:
                fields = line.decode("gb18030").split(",")
            except UnicodeDecodeError:
                continue  # the planted undecodable line (malformed_record)
            if len(fields) == 9:
                ids.append(fields[1])
                usccs.append(fields[4])
    out["contracts", "filings"] = (ids, usccs)
    wb = openpyxl.load_workbook(world / "sources/personnel/花名册.xlsx", read_only=True)
    out["personnel", "roster"] = (
        [str(r[2] or "") for r in wb["花名册"].iter_rows(min_row=3, values_only=True)], [])
    return {k: ([i for i in v[0] if i], [u for u in v[1] if u]) for k, v in out.items()}


def test_every_planted_identifier_is_independently_right(world: Path) -> None:
    """Valid IDs / USCCs pass the standards' algorithms; the planted invalid ones (and only
    they) fail — exactly as many as the key says."""
    key = _key(world)["systems"]
    for (system, stream), (ids, usccs) in _ids_and_usccs(world).items():
        q = key[system][stream]["quarantined"]
        bad_ids = [i for i in ids if not citizen_id_is_valid(_norm_id(i) or "")]
        assert len(bad_ids) == q.get("citizen_id_invalid", 0), (system, stream, bad_ids[:5])
        bad_usccs = [u for u in usccs if not uscc_is_valid(u)]
        assert len(bad_usccs) == q.get("uscc_invalid", 0), (system, stream, bad_usccs[:5])


def test_identifiers_agree_with_the_hub_module(world: Path) -> None:
    """Cross-check with hrss_hub.standard.identifiers (written independently)."""
    ident = pytest.importorskip("hrss_hub.standard.identifiers")
    for (system, stream), (ids, usccs) in _ids_and_usccs(world).items():
        for raw in ids:
            norm = _norm_id(raw) or ""
            assert bool(ident.validate_citizen_id(raw).valid) == citizen_id_is_valid(norm), \
                (system, stream, raw)
        for raw in usccs:
            assert bool(ident.validate_uscc(raw).valid) == uscc_is_valid(raw), (system, raw)


def test_realistic_variation_is_present(world: Path) -> None:
    ids, _ = _ids_and_usccs(world)["si_core", "AC01"]
    assert any(len(i) == 15 for i in ids), "15-digit legacy numbers"
    assert any(i.endswith("x") for i in ids), "lower-case x"
    c_ids, _ = _ids_and_usccs(world)["contracts", "filings"]
    assert any(any("０" <= ch <= "９" for ch in i) for i in c_ids), "full-width digits"
    con = sqlite3.connect(world / "sources" / "si_core.db")
    try:
        eth = {r[0] for r in con.execute("SELECT AAC005 FROM AC01")}
        names = [r[0] for r in con.execute("SELECT AAC003 FROM AC01") if r[0]]
    finally:
        con.close()
    assert eth & {"57", "97"}
    assert any("陳" in n or "劉" in n or "張" in n for n in names), "traditional characters"
    assert any("·" in n or "." in n for n in names), "minority names with a separator dot"


# --------------------------------------------------------------------------- file formats


def test_contract_csvs_are_gbk(world: Path) -> None:
    files = sorted((world / "sources" / "contracts").glob("*.csv"))
    assert len(files) >= 3
    undecodable = 0
    for path in files:
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert data.splitlines()[0].decode("gbk").startswith("合同编号,身份证号,姓名")
        for line in data.splitlines():
            try:
                line.decode("gb18030")
            except UnicodeDecodeError:
                undecodable += 1
    assert undecodable == 1  # the planted line with bytes invalid in GB18030


def test_roster_has_a_merged_title_row(world: Path) -> None:
    wb = openpyxl.load_workbook(world / "sources/personnel/花名册.xlsx")
    ws = wb["花名册"]
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:H1"]
    assert "花名册" in str(ws["A1"].value)
    assert [c.value for c in ws[2]] == ["工号", "姓名", "身份证号码", "性别", "出生日期", "民族",
                                        "学历", "入职日期"]
    assert isinstance(ws["E3"].value, int)  # Excel date serial in a General cell


def test_workspace_files(world: Path) -> None:
    from hrss_hub.config import load_config

    cfg = load_config(world / "hub.yaml")
    assert (cfg.hub_id, cfg.level, cfg.division) == ("wuhou-district", "district", "510107")
    names = sorted(p.stem for p in (world / "connectors").glob("*.yaml"))
    assert names == ["civil_register", "contracts", "employment", "personnel", "si_core"]
    assert "HRSS_DEMO_API_TOKEN=" in (world / ".env").read_text(encoding="utf-8")


def test_connector_mappings_check_against_the_standard(world: Path) -> None:
    check = pytest.importorskip("hrss_hub.mapping.check")
    from hrss_hub.config import load_config
    from hrss_hub.standard.model import load_standard

    cfg = load_config(world / "hub.yaml")
    problems = check.check_mappings(cfg, load_standard(cfg.standard_dir))
    assert problems == []


def test_supervision_cases_are_planted_in_the_sources(world: Path) -> None:
    """Every check but the two-district one has planted cases; the civil register's files
    hold exactly the events its tally counts; 补发 rows use payment serial 2."""
    key = json.loads((world / "answer_key.json").read_text(encoding="utf-8"))
    cases = key["supervision"]
    assert cases["duplicate_enrollment"] == []
    assert all(cases[c] for c in cases if c != "duplicate_enrollment")
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1
                for p in (world / "sources" / "civil_register").glob("civil_*.csv"))
    assert lines == key["systems"]["civil_register"]["events"]["read"]
    con = sqlite3.connect(world / "sources" / "si_core.db")
    serials = dict(con.execute("SELECT AAE008, count(*) FROM AC63 GROUP BY AAE008").fetchall())
    con.close()
    assert set(serials) == {"1", "2"} and serials["2"] > 0

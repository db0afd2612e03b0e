"""Sharing agreements: the file's shape with every problem at once (line and path), and
actions that are refused rather than delivered raw."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hrss_hub.config import ConfigProblems
from hrss_hub.exchange.policy import check_agreement_files, load_agreement, load_agreements
from hrss_hub.standard.model import load_standard

GOOD = """\
recipient:
  id: medical-insurance
  name: 成都市武侯区医疗保障局
  level: county
  division: "510107"
purpose: 医保参保人员身份核验
legal_basis: 《社会保险法》
valid_from: 2026-01-01
valid_to: "2027-12-31"
rows: {division_prefix: 510107}
datasets:
  person:
    columns: {citizen_id: pseudonym, name: partial, gender: keep, phone: drop}
  employment:
    columns: {employer_uscc: keep}
    rows: {division_prefix: ["5101", "5102"]}
"""

INVALID = [
    ("typos and a raw-delivering action", GOOD.replace("purpose:", "purpse:")
     .replace("name: partial", "name: pseudonim").replace("level: county", "level: county-ish"),
     [(1, "purpose", "purpose is required"),
      (4, "recipient.level", "unknown recipient level 'county-ish'"),
      (6, "purpse", "unknown key 'purpse'"),
      (13, "datasets.person.columns.name", "unknown action 'pseudonim'")],
     ["did you mean 'pseudonym'", "did you mean 'purpose'"]),
    ("dates", GOOD.replace("valid_from: 2026-01-01", "valid_from: 20260101")
     .replace('valid_to: "2027-12-31"', "valid_to: 2027-02-30"),
     [(8, "valid_from", "must be a date (YYYY-MM-DD), got 20260101"),
      (9, "valid_to", "must be a date (YYYY-MM-DD), got '2027-02-30'")], []),
    ("period and ids", GOOD.replace("valid_from: 2026-01-01", "valid_from: 2028-01-01")
     .replace("id: medical-insurance", "id: Medical Insurance")
     .replace("division_prefix: 510107}", "division_prefix: 5101070}"),
     [(2, "recipient.id", "must be lower-case letters, digits, - or _"),
      (9, "valid_to", "valid_to (2027-12-31) is before valid_from (2028-01-01)"),
      (10, "rows.division_prefix", "division prefix '5101070' must be 1–6 digits")], []),
    ("grants", GOOD.replace("columns: {employer_uscc: keep}", "columns: {}"),
     [(15, "datasets.employment.columns", "a dataset grant needs columns")], []),
]


def test_a_good_agreement(tmp_path: Path) -> None:
    path = tmp_path / "mib.yaml"
    path.write_text(GOOD, encoding="utf-8")
    a = load_agreement(path)
    assert (a.recipient_id, a.recipient_level, a.recipient_division) == (
        "medical-insurance", "county", "510107")
    assert (a.valid_from, a.valid_to) == (date(2026, 1, 1), date(2027, 12, 31))
    assert a.datasets["person"].division_prefixes == ("510107",)
    assert a.datasets["employment"].division_prefixes == ("5101", "5102")
    assert a.datasets["person"].delivered_columns == ["citizen_id", "name", "gender"]
    assert a.active_on(date(2026, 6, 1)) and not a.revoked
    path.write_text(GOOD + "revoked: true\n", encoding="utf-8")
    withdrawn = load_agreement(path)
    assert withdrawn.revoked and not withdrawn.active_on(date(2026, 6, 1))
    path.write_text(GOOD + "revoked: perhaps\n", encoding="utf-8")
    with pytest.raises(ConfigProblems, match="revoked must be true or false, got 'perhaps'"):
        load_agreement(path)


@pytest.mark.parametrize(("case", "text", "problems", "hints"), INVALID,
                         ids=[c[0] for c in INVALID])
def test_invalid_agreements_report_every_problem(tmp_path: Path, case: str, text: str,
                                                 problems: list[tuple[int, str, str]],
                                                 hints: list[str]) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigProblems) as info:
        load_agreement(path)
    found = sorted((p.line or 0, p.path, p.message) for p in info.value.problems)
    assert len(found) == len(problems), found
    for (line, where, fragment), got in zip(problems, found, strict=True):
        assert (got[0], got[1]) == (line, where) and fragment in got[2], found
    for hint in hints:
        assert hint in str(info.value)


def test_every_file_and_every_standard_problem(tmp_path: Path) -> None:
    folder = tmp_path / "sharing"
    folder.mkdir()
    (folder / "a.yaml").write_text(GOOD, encoding="utf-8")
    (folder / "b.yaml").write_text(GOOD.replace("phone: drop", "phone: scramble")
                                   .replace("citizen_id: pseudonym", "citizen_id: keep")
                                   .replace("gender: keep", "salary: keep"), encoding="utf-8")
    (folder / "c.yaml").write_text(GOOD, encoding="utf-8")  # the same recipient again
    with pytest.raises(ConfigProblems) as info:
        load_agreements(folder)
    assert [(Path(p.file).name, p.path) for p in info.value.problems] == [
        ("b.yaml", "datasets.person.columns.phone"), ("c.yaml", "recipient.id")]
    agreements, problems, _ = check_agreement_files(folder, load_standard(), date(2026, 6, 1))
    text = "\n".join(problems)
    assert "unknown action 'scramble'" in text  # the file's own problem
    assert "raw citizen ID shared" in text and "salary: not a field of person" in text
    assert "also has an agreement in a.yaml" in text
    assert len(agreements) == 2


def test_the_repository_and_demo_agreements_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    for folder in (root / "sharing", root / "src/hrss_hub/demo/templates/sharing"):
        assert {a.recipient_id for a in load_agreements(folder)}

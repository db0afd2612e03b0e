"""The checker finds each kind of problem in a copied-and-broken standard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hrss_hub.config import bundled_standards_dir
from hrss_hub.standard.check import Problem, check_standard, parse_type


@pytest.fixture
def std_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled standard v1 to break."""
    root = tmp_path / "v1"
    shutil.copytree(bundled_standards_dir() / "v1", root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_bundled_standard_has_no_problems() -> None:
    assert check_standard() == []
    assert check_standard(bundled_standards_dir()) == []  # the standards/ folder works too


def test_malformed_yaml_reports_file_and_line(std_dir: Path) -> None:
    person = std_dir / "entities" / "person.yaml"
    lines = person.read_text(encoding="utf-8").splitlines()
    lines[10] = "  - name: [unclosed"
    person.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = _only(check_standard(std_dir))
    assert p.file.endswith("person.yaml")
    assert p.line is not None and 11 <= p.line <= 13
    assert "invalid YAML" in p.message
    assert str(p).startswith(f"{p.file}:{p.line}: ")


def test_unknown_code_list_with_suggestion(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "person.yaml", "code_list: ethnicity", "code_list: ethnicty")
    p = _only(check_standard(std_dir))
    assert p.path == "fields[ethnicity].code_list"
    assert "unknown code list 'ethnicty'" in p.message and "'ethnicity'" in p.message
    assert p.line is not None


def test_unknown_key_with_did_you_mean(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "employer.yaml", "    required: false\n    identifier: org_code",
          "    requird: false\n    identifier: org_code")
    problems = check_standard(std_dir)
    messages = [p.message for p in problems]
    assert any("unknown key 'requird'" in m and "did you mean 'required'" in m for m in messages)
    assert any("missing required key 'required'" in m for m in messages)
    assert all(p.file.endswith("employer.yaml") for p in problems)


def test_bad_type_and_bad_value_types(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "contribution.yaml", "type: decimal(18,2)", "type: decimal(40,2)")
    _edit(std_dir / "entities" / "contribution.yaml", "type: period", "type: perod")
    _edit(std_dir / "entities" / "employer.yaml", "required: true\n    key: true",
          'required: "yes"\n    key: true')
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "unknown type 'decimal(40,2)'" in text
    assert "unknown type 'perod'" in text and "did you mean 'period'" in text
    assert "fields[uscc].required: must be true/false, got a string 'yes'" in text


def test_key_field_must_be_required_and_in_entity_key(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "person.yaml", "    required: true\n    key: true",
          "    required: false\n    key: true")
    _edit(std_dir / "entities" / "employment.yaml", "key: [citizen_id, employer_uscc, start_date]",
          "key: [citizen_id, employer_uscc, start_dat]")
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "fields[citizen_id].required: a key field must be required: true" in text
    assert "unknown field 'start_dat' in the entity key" in text
    assert "field 'start_date' says key: true but is not in the entity key" in text


def test_duplicate_field_names(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "benefit_payment.yaml", "  - name: paid_date", "  - name: amount")
    p = _only(check_standard(std_dir))
    assert p.message == "duplicate field name 'amount'"


def test_duplicate_codes_and_unquoted_codes(std_dir: Path) -> None:
    gender = std_dir / "codelists" / "gender.yaml"
    _edit(gender, '  "9": {zh: 未说明的性别, en: Not stated}',
          '  "9": {zh: 未说明的性别, en: Not stated}\n'
          '  "1": {zh: 男, en: M}\n  7: {zh: 七, en: seven}')
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "duplicate key '1' (first defined at line" in text
    assert "code 7 must be a string: quote it" in text


def test_alias_to_unknown_code_and_shadowing(std_dir: Path) -> None:
    eth = std_dir / "codelists" / "ethnicity.yaml"
    _edit(eth, '  "57": "97"', '  "57": "99"\n  "01": "02"')
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "aliases.57: alias points at unknown code '99'" in text
    assert "aliases.01: alias '01' shadows the code of the same name" in text


def test_division_parent_missing_and_wrong_level(std_dir: Path) -> None:
    div = std_dir / "codelists" / "divisions.yaml"
    _edit(div, 'parent: "510100", valid_from: 1990, valid_to: null}',
          'parent: "510199", valid_from: 1990, valid_to: null}')  # 锦江区
    _edit(div, '{code: "510100", name_zh: 成都市, name_en: "Chengdu", level: prefecture',
          '{code: "510100", name_zh: 成都市, name_en: "Chengdu", level: prefectur')
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "divisions[510104].parent: parent '510199' is not a division in this file" in text
    assert "unknown level 'prefectur'" in text


def test_bounds_min_above_max_and_unknown_insurance_type(std_dir: Path) -> None:
    bounds = std_dir / "bounds" / "contribution_base.yaml"
    _edit(bounds, 'year: 2023, insurance_type: "110", min: 4071, max: 20355',
          'year: 2023, insurance_type: "110", min: 40710, max: 20355')
    _edit(bounds, 'year: 2023, insurance_type: "210"', 'year: 2023, insurance_type: "211"')
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "min 40710 is greater than max 20355" in text
    assert "unknown insurance type '211'" in text


def test_rules_referencing_unknown_fields_or_rules(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "employment.yaml", "end: end_date", "end: finish_date")
    _edit(std_dir / "entities" / "person.yaml", "id: gender_id_mismatch", "id: gender_mismatch")
    text = "\n".join(map(str, check_standard(std_dir)))
    assert "rule 'end_before_start' names unknown field 'finish_date'" in text
    assert "unknown rule 'gender_mismatch' (did you mean 'gender_id_mismatch'?)" in text


def test_every_problem_is_reported_not_just_the_first(std_dir: Path) -> None:
    _edit(std_dir / "entities" / "person.yaml", "code_list: ethnicity", "code_list: nope")
    _edit(std_dir / "codelists" / "gender.yaml", 'M: "1"', 'M: "3"')
    (std_dir / "codelists" / "industry.yaml").write_text("name: [", encoding="utf-8")
    problems = check_standard(std_dir)
    files = {Path(p.file).name for p in problems}
    assert {"person.yaml", "gender.yaml", "industry.yaml"} <= files


def test_missing_standard_yaml(tmp_path: Path) -> None:
    p = _only(check_standard(tmp_path))
    assert "no standard.yaml" in p.message


def test_parse_type() -> None:
    import pyarrow as pa

    assert parse_type("decimal(18, 2)") == pa.decimal128(18, 2)
    assert parse_type("decimal(2,3)") is None
    assert parse_type("varchar") is None

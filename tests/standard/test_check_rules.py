"""The checker validates an entity's ``rules:`` against the rule registry: which rules may be
declared, each parameter (fields, their types, values), severities — with file, YAML path,
line and did-you-mean; and what it accepts becomes the generated suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hrss_hub.config import bundled_standards_dir
from hrss_hub.quality.suites import build_suite
from hrss_hub.standard.check import Problem, check_standard
from hrss_hub.standard.model import load_standard


@pytest.fixture
def std_dir(tmp_path: Path) -> Path:
    root = tmp_path / "v1"
    shutil.copytree(bundled_standards_dir() / "v1", root)
    return root


def _declare(std_dir: Path, entity: str, *lines: str) -> Path:
    """Append rule declarations (YAML list items) to ``entity``'s ``rules:``."""
    path = std_dir / "entities" / f"{entity}.yaml"
    text = path.read_text(encoding="utf-8").replace("rules: []\n", "rules:\n")
    if "\nrules:" not in text:
        text += "rules:\n"
    path.write_text(text + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _problems(std_dir: Path) -> list[Problem]:
    return check_standard(std_dir)


def test_declared_rules_get_their_parameters_checked(std_dir: Path) -> None:
    path = _declare(
        std_dir, "employment",
        "  - {id: end_before_start, start: start_date, end: position}",   # wrong field type
        "  - {id: end_before_start, start: start_date, ende: end_date}",  # unknown parameter
        "  - {id: value_not_allowed, column: position}",                   # missing value_set
        "  - {id: value_not_allowed, column: position, value_set: []}",    # empty value_set
        "  - {id: reference_missing, column: citizen_id, entity: persons, entity_field: x}",
        "  - {id: end_before_start, severity: fatal}",
        "  - {id: citizen_id_invalid, column: citizen_id}",               # declared by a field
        "  - {id: pattern_mismatch, column: position, regex: '(?<=a)b['}",
        "  - {id: pattern_mismatch, column: position, regex: '(?<=a)b'}",  # Python only
    )
    problems = [p for p in _problems(std_dir) if p.file == str(path)]
    text = "\n".join(map(str, problems))
    assert "rules[1].end: field 'position' must be of type date or timestamp for rule " \
           "'end_before_start' (it is string)" in text
    assert "rules[2].ende: unknown parameter 'ende' of rule 'end_before_start' (did you mean " \
           "'end'?); parameters: start, end" in text
    assert "rules[3].value_set: rule 'value_not_allowed' needs parameter 'value_set'" in text
    assert "rules[4].value_set: parameter 'value_set' of rule 'value_not_allowed'" in text
    assert "rules[5].entity: unknown entity 'persons'" in text
    assert "rules[6].severity: severity 'fatal' is not possible" in text
    assert "rules[7].id: rule 'citizen_id_invalid' is not declared in rules: but by field: " \
           "`identifier: citizen_id`" in text
    assert "rules[8].regex: invalid regular expression" in text
    assert "rules[9].regex: invalid regular expression '(?<=a)b': Invalid regular " \
           "expression: invalid perl operator" in text
    # each problem carries the line of the declaration
    lines = path.read_text(encoding="utf-8").splitlines()
    for p in problems:
        assert p.line is not None and "id:" in lines[p.line - 1], p


def test_defaults_of_a_cross_field_rule_are_fields_too(std_dir: Path) -> None:
    # a bare {id: end_before_start} names start_date / end_date by default: fine here ...
    _declare(std_dir, "employment", "  - {id: end_before_start}")
    assert _problems(std_dir) == []
    # ... but not on an entity without those fields
    path = _declare(std_dir, "employer", "  - {id: end_before_start}")
    text = "\n".join(str(p) for p in _problems(std_dir) if p.file == str(path))
    assert "rules[0].start: rule 'end_before_start' names unknown field 'start_date'" in text


def test_accepted_declarations_become_the_generated_suite(std_dir: Path) -> None:
    _declare(std_dir, "person",
             "  - {id: value_not_allowed, column: nationality, value_set: [CHN, HKG, MAC, TWN],"
             " severity: warning, description: 本地只登记这四种国籍。}",
             "  - id: reference_missing",
             "    column: address_division",
             "    entity: employer",
             "    entity_field: division")
    assert _problems(std_dir) == []
    std = load_standard(std_dir)
    doc = build_suite(std.entity("person"), std)
    mine = [e for e in doc["expectations"] if e["meta"]["hrss_hub"]["source"].startswith(
        "entities/person.yaml#rules[")]
    assert [(e["type"], e["kwargs"], e["meta"]["hrss_hub"]["severity"]) for e in mine][-2:] == [
        ("expect_column_values_to_be_in_set",
         {"column": "nationality", "value_set": ["CHN", "HKG", "MAC", "TWN"]}, "warning"),
        ("expect_column_values_to_exist_in_entity",
         {"column": "address_division", "entity": "employer", "entity_field": "division"},
         "warning"),
    ]
    json.dumps(doc)  # the suite is JSON as written

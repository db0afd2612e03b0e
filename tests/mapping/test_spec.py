"""A stream's ``mapping:`` block: its shape is checked with every problem at once, and the
specs the compiler gets are what the YAML says."""

from __future__ import annotations

from typing import Any

import pytest

from hrss_hub.config import ConfigProblems
from hrss_hub.mapping.spec import parse_mapping

VALID_MAPPINGS: list[tuple[str, dict[str, Any]]] = [
    ("shorthand and long forms", {"entity": "person", "source_key": "AAC001", "fields": {
        "citizen_id": "AAC002", "name": {"from": "AAC003", "normalize": "name"},
        "gender": {"from": "AAC004", "map": {1: "1", 2: 2, "F": "2"}, "fallback": 9},
        "division": {"const": "510107"}, "phone": {"concat": ["A", "B"], "sep": "-"},
        "birth_date": {"from": "AAC006", "normalize": "date", "formats": "%Y%m%d"},
        "ethnicity": {"codes": "ethnicity", "from": "AAC005"}}}),
    ("filters", {"entity": "contribution", "fields": {"amount": {"expr": "A * 0.08"}},
                 "filter": [{"column": "AAE100", "in": [1, "2"]},
                            {"column": "X", "not_null": True},
                            {"column": "Y", "equals": 1}]}),
    ("one filter as a mapping", {"entity": "person", "fields": {"name": "N"},
                                 "filter": {"column": "AAE100", "not_in": "0"}}),
]

INVALID_MAPPINGS: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("no entity, no fields", {"source_key": "A"},
     [("mapping has no entity", "m.entity"), ("mapping has no fields", "m.fields")]),
    ("unknown keys", {"entity": "person", "feilds": {}, "fields": {"a": {"frm": "x"}}},
     [("unknown key 'feilds'", "m.feilds"), ("unknown key 'frm'", "m.fields.a.frm")]),
    ("two values and none", {"entity": "person", "fields": {
        "a": {"from": "x", "expr": "y"}, "b": {"normalize": "name"}}},
     [("use only one of from, expr", "m.fields.a"),
      ("no value: give one of from, const, concat, expr, transform", "m.fields.b")]),
    ("choices", {"entity": "person", "fields": {
        "a": {"from": "x", "normalize": "nmae"}, "b": {"from": "y", "unit": "jiao"}}},
     [("unknown normalizer 'nmae'", "m.fields.a.normalize"),
      ("unknown amount unit 'jiao'", "m.fields.b.unit")]),
    ("filters", {"entity": "person", "fields": {"a": "x"}, "filter": [
        {"column": "A", "contains": "1"}, {"in": ["1"]}, {"column": "B", "in": "1",
                                                          "equals": "2"}]},
     [("unknown key 'contains'", "m.filter[0].contains"),
      ("column is required", "m.filter[1].column"),
      ("exactly one of in, not_in, equals, not_null", "m.filter[2]")]),
    ("shapes", {"entity": "person", "fields": {"a": {"from": "x", "map": ["M", "F"],
                                                     "args": "no"}}},
     [("map must be a mapping", "m.fields.a.map"), ("args must be a mapping", "m.fields.a.args")]),
]


@pytest.mark.parametrize(("case", "raw"), VALID_MAPPINGS, ids=[c[0] for c in VALID_MAPPINGS])
def test_valid_mappings(case: str, raw: dict[str, Any]) -> None:
    spec = parse_mapping(raw, "s.yaml", "streams[0].mapping")
    assert spec.entity == raw["entity"] and set(spec.fields) == set(raw["fields"])


def test_specs_say_what_the_yaml_says() -> None:
    spec = parse_mapping(VALID_MAPPINGS[0][1], "s.yaml", "streams[0].mapping")
    assert spec.source_key == ("AAC001",)
    assert spec.fields["citizen_id"].source == "AAC002"
    gender = spec.fields["gender"]
    assert (gender.value_map, gender.fallback) == ({"1": "1", "2": "2", "F": "2"}, "9")
    assert spec.fields["phone"].concat == ("A", "B") and spec.fields["phone"].sep == "-"
    assert spec.fields["birth_date"].formats == ("%Y%m%d",)
    assert spec.fields["name"].path == "streams[0].mapping.fields.name"
    filters = parse_mapping(VALID_MAPPINGS[1][1], "s.yaml", "m").filters
    assert [(f.column, f.op, f.values) for f in filters] == [
        ("AAE100", "in", ("1", "2")), ("X", "not_null", ()), ("Y", "equals", ("1",))]
    assert filters[1].path == "m.filter[1]"
    assert spec.source_columns() == {"AAC001", "AAC002", "AAC003", "AAC004", "A", "B",
                                     "AAC006", "AAC005"}


@pytest.mark.parametrize(("case", "raw", "problems"), INVALID_MAPPINGS,
                         ids=[c[0] for c in INVALID_MAPPINGS])
def test_invalid_mappings_report_every_problem(case: str, raw: dict[str, Any],
                                               problems: list[tuple[str, str]]) -> None:
    with pytest.raises(ConfigProblems) as info:
        parse_mapping(raw, "s.yaml", "m")
    found = sorted((p.path, p.message) for p in info.value.problems)
    assert len(found) == len(problems), found
    for (path, message), (fragment, where) in zip(found, sorted(problems, key=lambda p: p[1]),
                                                  strict=True):
        assert path == where and fragment in message, found
    assert all(p.file == "s.yaml" for p in info.value.problems)

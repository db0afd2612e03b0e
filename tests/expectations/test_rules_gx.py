"""Every registered rule: its predicate (as the row gate calls it) and its Great Expectations
expectation flag the same rows of a small frame with passing, failing and missing values —
for the hub's custom expectations and for the GX built-ins a rule stands for alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hrss_hub.quality import checks, gx
from hrss_hub.quality.frame import ROW_COLUMN
from hrss_hub.quality.rules import Rule, RuleContext, registry
from hrss_hub.quality.suites import CANDIDATE_CONDITION, parse_suite_doc
from hrss_hub.standard.model import Standard, load_standard

USCC = "91350100M000100Y43"
ID_F = "11010519491231002X"  # female, born 1949-12-31
ID_M = "34052419800101001X"  # male, born 1980-01-01

#: rule id -> (entity, expectation kwargs, frame columns, rows expected to fail)
EXAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, list[Any]], int]] = {
    "required_missing": ("person", {"column": "name"}, {"name": ["甲", None, "乙", None]}, 2),
    "citizen_id_invalid": ("person", {"column": "citizen_id"},
                           {"citizen_id": [ID_F, "110105194912310021", None, "X"]}, 2),
    "uscc_invalid": ("employer", {"column": "uscc"},
                     {"uscc": [USCC, "91350100M000100Y44", None]}, 1),
    "org_code_invalid": ("employer", {"column": "org_code"},
                         {"org_code": ["M000100Y4", "M000100Y5", None]}, 1),
    "date_invalid": ("person", {"column": "birth_date"},
                     {"birth_date": ["1949-12-31", "2023-02-30", "19491231", None]}, 2),
    "period_invalid": ("contribution", {"column": "period"},
                       {"period": ["202401", "202413", "2024-01", None]}, 2),
    "value_invalid": ("contribution", {"column": "base", "value_type": "decimal"},
                      {"base": ["6785.00", "abc", "1,000.5", None]}, 1),
    "code_unknown": ("person", {"column": "gender", "code_list": "gender"},
                     {"gender": ["1", "男", "7", None]}, 2),
    "pattern_mismatch": ("person", {"column": "phone", "regex": r"^1[3-9]\d{9}$"},
                         {"phone": ["13800138000", "023-1234567", None]}, 1),
    "value_too_long": ("person", {"column": "name", "min_value": 2, "max_value": 3},
                       {"name": ["甲", "甲乙", "甲乙丙丁", None]}, 2),
    "value_out_of_range": ("contribution", {"column": "base", "min_value": 0,
                                            "max_value": 100000},
                           {"base": ["-1", "50", "abc", "200000", None]}, 2),
    "value_not_allowed": ("person", {"column": "gender", "value_set": ["1", "2"]},
                          {"gender": ["1", "9", "2", None]}, 1),
    "reference_missing": ("contribution", {"column": "citizen_id", "entity": "person",
                                           "entity_field": "citizen_id"},
                          {"citizen_id": [ID_F, ID_M, None]}, 1),
    "gender_id_mismatch": ("person", {"column_list": ["citizen_id", "gender"]},
                           {"citizen_id": [ID_F, ID_F, ID_M, ID_M, "bad"],
                            "gender": ["2", "1", "1", "9", "1"]}, 1),
    "birth_date_id_mismatch": ("person", {"column_list": ["citizen_id", "birth_date"]},
                               {"citizen_id": [ID_F, ID_M, ID_M, None],
                                "birth_date": ["1949-12-31", "1980-01-02", "x", "2000-01-01"]},
                               1),
    "end_before_start": ("employment", {"column_list": ["start_date", "end_date"]},
                         {"start_date": ["2023-03-01", "2023-03-01", "2023-03-01", None],
                          "end_date": ["2023-02-01", "2023-03-01", None, "2020-01-01"]}, 1),
    "contribution_base_out_of_bounds": (
        "contribution", {"column_list": ["base", "division", "period", "insurance_type"]},
        {"base": ["3000.00", "5000.00", "30000.00", "3000.00"],
         "division": ["510107", "510107", "510107", "999999"],
         "period": ["202301", "202301", "202301", "202301"],
         "insurance_type": ["110", "110", "110", "110"]}, 2),
    "duplicate_key": ("employment",
                      {"column_list": ["citizen_id", "employer_uscc", "start_date"],
                       "row_condition": dict(CANDIDATE_CONDITION)},
                      {"citizen_id": [ID_F, ID_F, ID_F, ID_M],
                       "employer_uscc": [USCC] * 4,
                       "start_date": ["2023-01-05", "2023-01-05", "2023-01-05", "2023-01-05"],
                       "__candidate__": [True, True, False, True]}, 1),
}


def _frame(std: Standard, entity: str, columns: dict[str, list[Any]]) -> pa.Table:
    n = len(next(iter(columns.values())))
    data: dict[str, pa.Array] = {}
    for f in std.entity(entity).fields:
        data[f.name] = pa.array(columns.get(f.name, [None] * n), pa.string())
    data["__candidate__"] = pa.array(columns.get("__candidate__", [True] * n), pa.bool_())
    data[ROW_COLUMN] = pa.array(range(n), pa.int64())
    return pa.table(data)


def test_every_builtin_rule_with_a_predicate_has_an_example() -> None:
    builtin = {r.id for r in registry().checked() if r.origin == "builtin"}
    assert builtin == set(EXAMPLES)


@pytest.mark.parametrize("rule_id", sorted(EXAMPLES))
def test_predicate_and_gx_flag_the_same_rows(rule_id: str, gx_context: Any,
                                             tmp_path: Path) -> None:
    std = load_standard()
    entity, kwargs, columns, expected = EXAMPLES[rule_id]
    rule = registry().get(rule_id)
    assert isinstance(rule, Rule)
    type_ = rule.expectation
    if rule.single_column_expectation and len(kwargs.get("column_list", [])) == 1:
        type_ = rule.single_column_expectation
    doc = {"name": f"{entity}.{rule_id}", "expectations": [{"type": type_, "kwargs": kwargs}],
           "meta": {"hrss_hub": {"entity": entity}}}
    suite = parse_suite_doc(doc, tmp_path / f"{rule_id}.json", std)
    frame = _frame(std, entity, columns)
    refs = {("person", "citizen_id"): pa.array([ID_F])}
    ctx = RuleContext(std, refs)
    (spec,) = suite.expectations
    ours = int(pc.sum(checks.unexpected_mask(spec, frame, ctx)).as_py() or 0)
    assert ours == expected
    gx.set_context(ctx)
    (count,) = gx.SuiteRunner(gx_context, [suite], f"rules.{rule_id}").validate(frame)
    assert count.error is None
    assert count.unexpected_count == expected, f"GX disagrees on {rule_id}"


def test_a_failing_gx_metric_is_reported_as_an_error(gx_context: Any, tmp_path: Path) -> None:
    """GX reports a metric's exception keyed by metric id; it must not read as 0 rows."""
    std = load_standard()
    doc = {"name": "person.broken", "meta": {"hrss_hub": {"entity": "person"}},
           "expectations": [{"type": "expect_column_values_to_be_valid_citizen_id",
                             "kwargs": {"column": "citizen_id"}}]}
    suite = parse_suite_doc(doc, tmp_path / "broken.json", std)
    frame = pa.table({"name": pa.array(["甲"])})  # the column GX should read is absent
    (count,) = gx.SuiteRunner(gx_context, [suite], "rules.broken").validate(frame)
    assert count.error is not None and "citizen_id" in count.error

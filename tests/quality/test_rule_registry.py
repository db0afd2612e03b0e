"""The rule registry is the single source of rule ids: every id the code uses is registered,
and the standard checker, the suites, the gate, the GX expectations and the data dictionary
all list the registry's rules; a broken rule class is refused with a clear error."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hrss_hub.quality.rules import (
    AnyField,
    RecordedRule,
    Registry,
    Rule,
    RuleContext,
    RuleParams,
    RuleRegistrationError,
    Verdict,
    registry,
)
from hrss_hub.quality.suites import build_all, load_suites
from hrss_hub.standard.docs import render_markdown, rule_table_ids
from hrss_hub.standard.model import load_standard

#: the repository checkout (tests read its standards/ and expectations/)
REPO_ROOT = Path(__file__).resolve().parents[2]

SRC = REPO_ROOT / "src" / "hrss_hub"
#: literals compared with a variable called ``rule`` that are not rule ids, and why
NOT_RULE_IDS = {"filtered": "the demo generator's name for rows the mapping filters out "
                            "(counted as filtered, never quarantined)"}
#: calls whose argument at this position (or keyword) is a rule id
_RULE_ARGS = {"Failure": 0, "Normalized": 2, "_ident": 1, "_parsed": 0}


def _constants(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for elt in node.elts:
            yield from _constants(elt)


def _is_rule_ref(node: ast.AST) -> bool:
    """``x.rule``, ``x["rule"]``, ``rule`` / ``rule_id``: an expression holding a rule id."""
    if isinstance(node, ast.Attribute):
        return node.attr == "rule"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "rule"
    return isinstance(node, ast.Name) and node.id in ("rule", "rule_id", "rid")


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


class _RuleIds(ast.NodeVisitor):
    """Collects the string literals the code uses as rule ids, with their places."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[tuple[str, str]] = []

    def _add(self, node: ast.AST, where: ast.AST) -> None:
        for value in _constants(node):
            self.found.append((value, f"{self.path.relative_to(REPO_ROOT)}:{where.lineno}"))  # type: ignore[attr-defined]

    def visit_Call(self, node: ast.Call) -> None:
        position = _RULE_ARGS.get(_name(node.func))
        if position is not None and len(node.args) > position:
            self._add(node.args[position], node)
        for kw in node.keywords:
            if kw.arg in ("rule", "rule_id"):
                self._add(kw.value, node)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        # ``"key" in rule`` asks a mapping for a key: only ``rule == x`` / ``rule in (…)``
        membership = any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
        if _is_rule_ref(node.left) or (not membership and any(map(_is_rule_ref, sides))):
            for side in sides:
                if not _is_rule_ref(side):
                    self._add(side, node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if any(word in _name(node.value) for word in ("by_rule", "rule_counts")):
            self._add(node.slice, node)
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "rules" and isinstance(
                    value, ast.List):
                for item in value.elts:
                    self._add(item, node)
        self.generic_visit(node)


def _rule_ids_in_src() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        visitor = _RuleIds(path)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        found += visitor.found
    return found


def test_every_rule_id_the_code_uses_is_registered() -> None:
    found = _rule_ids_in_src()
    ids = set(registry().ids())
    unknown = sorted({f"{value} ({where})" for value, where in found
                      if value not in ids and value not in NOT_RULE_IDS})
    assert not unknown, "rule ids used in src/ but not in the registry:\n" + "\n".join(unknown)
    # the scan is not vacuous: it sees the mapping's, the connector's and the gate's ids
    seen = {value for value, _ in found}
    assert {"required_missing", "citizen_id_invalid", "date_invalid", "code_unmapped",
            "code_unknown", "value_invalid", "malformed_record"} <= seen


def test_the_answer_key_of_the_demo_names_registered_rules(tmp_path: Path) -> None:
    from hrss_hub.demo.generator import generate_world

    generate_world(tmp_path / "w", persons=40, seed=3)
    key = json.loads((tmp_path / "w" / "answer_key.json").read_text(encoding="utf-8"))
    used = {rule for streams in key["systems"].values() for s in streams.values()
            for rule in s["quarantined"]}
    assert used and used <= set(registry().ids())


def test_checker_suites_gate_gx_and_docs_list_the_registry() -> None:
    reg = registry()
    std = load_standard()
    # the data dictionary's rule table lists every registered rule, in registry order
    assert rule_table_ids(std) == list(reg.ids())
    md = render_markdown(std)
    for rule in reg:
        assert f"| `{rule.id}` | {rule.label_zh} / {rule.label_en} | {rule.default_severity} |" \
            in md
    # every suite expectation is the expectation of a registered rule
    suites = load_suites(REPO_ROOT / "expectations", std)
    used = {e.rule for group in suites.values() for s in group for e in s.expectations}
    assert used <= set(reg.ids())
    assert {e.type for group in suites.values() for s in group for e in s.expectations} <= set(
        reg.expectation_types())
    # the generated suites cover every field-, entity- and declared rule the standard uses
    generated = {e["meta"]["hrss_hub"]["rule"] for text in build_all(std).values()
                 for e in json.loads(text)["expectations"]}
    declared = {r.id for e in std.entities.values() for r in e.rules}
    assert declared <= generated
    assert {"required_missing", "citizen_id_invalid", "code_unknown", "duplicate_key"} <= generated
    # the checker accepts exactly the declarable rules (its error lists them)
    from hrss_hub.standard.check import RawStandard, _Checker, _Reporter

    problems: list[Any] = []
    checker = _Checker(RawStandard(root=Path()), problems)
    scope = checker._scope("person", {"citizen_id": "string"})
    checker._check_rule(_Reporter(problems, Path("x.yaml")), {"id": "nope"}, "rules[0]", scope)
    listed = problems[0].message.split("declarable rules: ")[1].split(", ")
    assert listed == [r.id for r in reg.declarable()]
    # the GX custom expectations are the registry's non-builtin expectation types
    from hrss_hub.quality import gx

    gx.import_gx()
    from great_expectations.expectations.registry import get_expectation_impl

    for rule in reg.checked():
        for type_ in rule.expectation_types:
            assert get_expectation_impl(type_) is not None, type_


class _Params(RuleParams):
    column: AnyField


class _Good(Rule[_Params]):
    id = "good_rule"
    label_zh = "好"
    label_en = "good"
    description = "A rule that is fine."
    params_model = _Params
    expectation = "expect_column_values_to_be_good"

    def predicate(self, columns: Sequence[pa.Array], params: _Params,
                  ctx: RuleContext) -> Verdict:
        return Verdict(pa.array([False] * len(columns[0])), columns[0])


def _variant(**attrs: Any) -> type[Rule[_Params]]:
    return type("Variant", (_Good,), attrs)


@pytest.mark.parametrize(("attrs", "says"), [
    ({"label_zh": ""}, "lacks 'label_zh'"),
    ({"id": "Bad-Id"}, "not snake_case"),
    ({"expectation": "check_things"}, "must look like expect_"),
    ({"expectation": "expect_column_values_to_not_be_null"}, "already evaluates rule"),
    ({"id": "required_missing"}, "registered twice"),
    ({"default_severity": "warning", "severities": ("critical", "error")},
     "default severity 'warning'"),
    ({"reported": "other"}, "reported parameter 'other'"),
])
def test_a_broken_rule_class_is_refused(attrs: dict[str, Any], says: str) -> None:
    reg = Registry()
    for rule in registry():
        reg.add(type(rule), "builtin")
    with pytest.raises(RuleRegistrationError, match=says):
        reg.add(_variant(**attrs), "test")


def test_counts_also_must_name_a_recorded_rule() -> None:
    reg = Registry()
    reg.add(_variant(counts_also=("nothing_here",)), "test")
    with pytest.raises(RuleRegistrationError, match="counts_also names 'nothing_here'"):
        reg.check_links()

    class Recorded(RecordedRule):
        id = "nothing_here"
        label_zh = "无"
        label_en = "none"
        description = "Recorded elsewhere."

    reg.add(Recorded, "test")
    reg.check_links()


def test_the_gate_refuses_a_failure_of_an_unregistered_rule() -> None:
    from datetime import UTC, datetime

    from hrss_hub.errors import ConfigError
    from hrss_hub.mapping import compile_mapping, parse_mapping
    from hrss_hub.mapping.compile import Failure
    from hrss_hub.quality.gate import RowGate

    std = load_standard()
    compiled = compile_mapping(parse_mapping(
        {"entity": "employer", "source_key": ["no"],
         "fields": {"uscc": "uscc", "name": "name", "division": {"const": "510107"}}},
        "x.yaml", "m"), std)
    mb = compiled.apply(pa.RecordBatch.from_pydict({
        "no": ["1"], "uscc": ["91350100M000100Y43"], "name": ["甲公司"]}))
    mb.failures.append(Failure("uscc_checksum", "uscc", pa.array([True]), pa.array(["x"])))
    gate = RowGate(compiled.entity, std, "r", "s", "t", datetime.now(UTC))
    with pytest.raises(ConfigError, match="unknown rule 'uscc_checksum'"):
        gate.evaluate(mb)

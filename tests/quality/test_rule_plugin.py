"""Adding a cross-field rule is adding one file: a rule class in an installed package, named
by an ``hrss_hub.rules`` entry point, is seen by ``standard check``, the generated suites, the
row gate, Great Expectations and the data dictionary — with nothing else changed.

The package is real: a module plus a ``.dist-info`` folder (METADATA, entry_points.txt) on
``sys.path``, which is how pip installs one; ``importlib.metadata`` finds it as it finds any.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from hrss_hub.cli import cli
from hrss_hub.config import shipped_standards_dir
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.quality import gx
from hrss_hub.quality.gate import RowGate
from hrss_hub.quality.rules import refresh, registry
from hrss_hub.quality.suites import load_suites
from hrss_hub.standard.docs import render_markdown
from hrss_hub.standard.model import load_standard

PLUGIN = '''
"""A county's own rule: nobody is employed before the minimum working age (劳动法 第十五条)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.quality.rules import AnyField, DateField, Rule, RuleContext, RuleParams, Verdict
from hrss_hub.quality.rules.kernels import citizen_ids, iso_dates, no_nulls


class WorkingAgeParams(RuleParams):
    citizen_id: AnyField = "citizen_id"
    start: DateField = "start_date"
    min_age: int = 16


def _ymd(dates: pa.Array) -> pa.Array:
    year, month, day = pc.year(dates), pc.month(dates), pc.day(dates)
    return pc.add(pc.add(pc.multiply(year, 10000), pc.multiply(month, 100)), day)


class UnderWorkingAge(Rule[WorkingAgeParams]):
    """Judged for citizen IDs (which carry the birth date) and real start dates."""

    id = "under_working_age"
    label_zh = "未满法定就业年龄"
    label_en = "under the minimum working age"
    description = "The employment starts before the person's min_age-th birthday."
    params_model = WorkingAgeParams
    expectation = "expect_employment_to_start_at_working_age"
    reported = "start"

    def predicate(self, columns: Sequence[pa.Array], params: WorkingAgeParams,
                  ctx: RuleContext) -> Verdict:
        id_col, start_text = columns
        info, comparable = citizen_ids(id_col)
        start, ok = iso_dates(start_text)
        age = pc.subtract(_ymd(start), _ymd(info.field("birth_date")))
        young = pc.less(age, params.min_age * 10000)
        return Verdict(no_nulls(pc.and_(pc.and_(comparable, ok), young)), start_text)
'''
DECLARATION = """  - id: under_working_age
    citizen_id: citizen_id
    start: {start}
    description: 用人单位不得招用未满十六周岁的未成年人 / no employment under 16.
"""
MAPPING = {"entity": "employment", "source_key": ["no"],
           "fields": {"citizen_id": "idno", "employer_uscc": "uscc",
                      "start_date": {"from": "start", "normalize": "date"}}}
USCC = "91350100M000100Y43"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``county_rules`` 0.1 installed on ``sys.path`` (module + dist-info), registry rebuilt."""
    site = tmp_path / "site"
    (site / "county_rules").mkdir(parents=True)
    (site / "county_rules" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "county_rules-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: county-rules\nVersion: 0.1\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[hrss_hub.rules]\nunder_working_age = county_rules:UnderWorkingAge\n",
        encoding="utf-8")
    assert "under_working_age" not in registry()
    monkeypatch.syspath_prepend(str(site))
    refresh()
    yield tmp_path
    monkeypatch.undo()
    sys.modules.pop("county_rules", None)
    refresh()


def _standard(tmp_path: Path, start: str = "start_date") -> Path:
    """A copy of the bundled standard whose employment declares the plugin's rule."""
    root = tmp_path / "standards"
    shutil.copytree(shipped_standards_dir(), root)
    employment = root / "v1" / "entities" / "employment.yaml"
    text = employment.read_text(encoding="utf-8")
    employment.write_text(text + DECLARATION.format(start=start), encoding="utf-8")
    return root


def test_a_plugin_rule_is_seen_everywhere(plugin: Path) -> None:
    standards = _standard(plugin)
    runner = CliRunner()
    # standard check: the declaration is valid, and the plugin is named
    checked = runner.invoke(cli, ["standard", "check", "--standard", str(standards)])
    assert checked.exit_code == 0, checked.output
    assert f"rules: {len(registry())} registered (1 from plugins: under_working_age " \
           "[county-rules 0.1])" in checked.output
    listed = runner.invoke(cli, ["standard", "rules", "--json"])
    assert {"id": "under_working_age", "origin": "county-rules 0.1"}.items() <= next(
        r for r in json.loads(listed.output) if r["id"] == "under_working_age").items()

    # suites: `expectations build` generates the expectation from the declaration
    suites_dir = plugin / "expectations"
    built = runner.invoke(cli, ["expectations", "build", "--standard", str(standards),
                                "--dir", str(suites_dir)])
    assert built.exit_code == 0, built.output
    doc = json.loads((suites_dir / "employment.json").read_text(encoding="utf-8"))
    (exp,) = [e for e in doc["expectations"]
              if e["type"] == "expect_employment_to_start_at_working_age"]
    assert exp["kwargs"] == {"column_list": ["citizen_id", "start_date"], "min_age": 16,
                             "ignore_row_if": "any_value_is_missing"}
    assert exp["meta"]["hrss_hub"] == {"rule": "under_working_age", "field": "start_date",
                                       "severity": "error",
                                       "source": "entities/employment.yaml#rules[1]"}

    # the gate quarantines the rows it flags
    std = load_standard(standards)
    suites = load_suites(suites_dir, std)["employment"]
    compiled = compile_mapping(parse_mapping(MAPPING, "x.yaml", "m"), std)
    gate = RowGate(compiled.entity, std, "run", "hr", "jobs", datetime.now(UTC), suites=suites)
    batch = pa.RecordBatch.from_pydict({
        "no": ["1", "2", "3"],
        # born 2010-03-07 (female), 1980-01-01, 1949-12-31
        "idno": ["110105201003070025", "34052419800101001X", "11010519491231002X"],
        "uscc": [USCC] * 3,
        "start": ["2024-09-01", "2001-07-01", "1968-01-01"],
    })
    verdict = gate.evaluate(compiled.apply(batch))
    assert dict(verdict.rule_counts) == {"under_working_age": 1}
    assert verdict.quarantined.column("source_key").to_pylist() == ["1"]
    assert verdict.quarantined.column("fields").to_pylist() == [["start_date"]]
    assert verdict.published.num_rows == 2

    # Great Expectations runs the same predicate and counts the same rows
    assert verdict.frame is not None
    gx.define_expectations()
    with gx.file_context(plugin / "gx") as context:
        runner_gx = gx.SuiteRunner(context, suites, "hr.jobs")
        counts = runner_gx.validate(verdict.frame)
    (mine,) = [c for c in counts if c.rule == "under_working_age"]
    assert (mine.error, mine.unexpected_count) == (None, 1)
    assert verdict.unexpected[(suites[0].name, mine.index)] == 1

    # and the data dictionary lists it with its labels and origin
    md = render_markdown(std)
    assert "| `under_working_age` | 未满法定就业年龄 / under the minimum working age | " \
           "error |" in md
    assert "plugin: county-rules 0.1" in md


def test_a_bad_declaration_of_a_plugin_rule_is_reported(plugin: Path) -> None:
    standards = _standard(plugin, start="strat_date")
    result = CliRunner().invoke(cli, ["standard", "check", "--standard", str(standards)])
    assert result.exit_code == 1
    assert "rules[1].start: rule 'under_working_age' names unknown field 'strat_date' of " \
           "entity 'employment' (did you mean 'start_date'?)" in result.output


def test_without_the_plugin_the_declaration_is_an_unknown_rule(tmp_path: Path) -> None:
    standards = _standard(tmp_path)
    result = CliRunner().invoke(cli, ["standard", "check", "--standard", str(standards)])
    assert result.exit_code == 1
    assert "unknown rule 'under_working_age'" in result.output


def test_a_broken_plugin_names_its_entry_point(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.quality.rules import RuleRegistrationError

    site = tmp_path / "site"
    (site / "broken_rules").mkdir(parents=True)
    (site / "broken_rules" / "__init__.py").write_text("import not_installed_anywhere\n",
                                                        encoding="utf-8")
    info = site / "broken_rules-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-rules\nVersion: 1.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [hrss_hub.rules]
            my_rule = broken_rules:MyRule
        """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    try:
        with pytest.raises(RuleRegistrationError) as err:
            refresh()
        assert "my_rule = broken_rules:MyRule" in str(err.value)
        assert "not_installed_anywhere" in str(err.value)
    finally:
        monkeypatch.undo()
        refresh()

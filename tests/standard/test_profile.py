"""Standard profiles (#15.15): a workspace extends the bundled standard with local codes,
code lists and optional fields under its own id and version, without copying it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hrss_hub.cli import cli
from hrss_hub.standard.check import check_standard
from hrss_hub.standard.model import load_standard

PROFILE = """\
profile: wuhou-county
version: 1.2.0
label_zh: 武侯区人社数据标准扩展
label_en: Wuhou district profile
description: 县级就业补贴类型等本地代码
base_version: 1.1.0
codes:
  insurance_type:
    "610": {zh: 县级就业补贴, en: County employment subsidy}
aliases:
  insurance_type: {就业补贴: "610"}
fields:
  person:
    - {name: subsidy_type, label_zh: 补贴类型, label_en: Subsidy type, type: string,
       required: false, code_list: subsidy_type, description: 县级就业补贴类型}
"""
SUBSIDY = """\
name: subsidy_type
label_zh: 就业补贴类型
label_en: Employment subsidy type
code_system: 武侯区本地代码
version: "2026"
codes:
  "01": {zh: 社保补贴, en: Social-insurance subsidy}
  "02": {zh: 岗位补贴, en: Job subsidy}
"""


def write_profile(root: Path, profile: str = PROFILE, subsidy: str | None = SUBSIDY) -> Path:
    (root / "codelists").mkdir(parents=True, exist_ok=True)
    (root / "profile.yaml").write_text(profile, encoding="utf-8")
    if subsidy is not None:
        (root / "codelists" / "subsidy_type.yaml").write_text(subsidy, encoding="utf-8")
    return root


def test_profile_extends_the_bundled_standard(tmp_path: Path) -> None:
    root = write_profile(tmp_path / "standard")
    assert check_standard(root) == []
    std = load_standard(root)
    base = load_standard()
    assert std.version == "1.1.0+wuhou-county.1.2.0" and std.base_version == base.version
    assert std.profile is not None and std.profile.id == "wuhou-county"
    # extra code (and its Chinese label and alias accepted), a new list, an optional field
    codes = std.code_list("insurance_type")
    assert codes.map_value("610") == codes.map_value("县级就业补贴") == \
        codes.map_value("就业补贴") == "610"
    assert base.code_list("insurance_type").map_value("610") is None  # base untouched
    assert std.code_list("subsidy_type").map_value("岗位补贴") == "02"
    field = std.entity("person").field("subsidy_type")
    assert not field.required and field.code_list == "subsidy_type"
    assert "subsidy_type" not in base.entity("person").field_names
    assert std.entity("person").key == base.entity("person").key


def test_standard_check_reports_the_difference_from_the_base(tmp_path: Path) -> None:
    root = write_profile(tmp_path / "standard")
    result = CliRunner().invoke(cli, ["standard", "check", "--standard", str(root)])
    assert result.exit_code == 0, result.output
    assert "standard v1.1.0+wuhou-county.1.2.0: OK" in result.output
    assert "profile wuhou-county 1.2.0 (武侯区人社数据标准扩展) extends hrss-unified 1.1.0" \
        in result.output
    for line in ("+ code list subsidy_type", "+ 1 code(s) in insurance_type: 610",
                 "+ 1 alias(es) in insurance_type: 就业补贴",
                 "+ optional field(s) of person: subsidy_type"):
        assert line in result.output


BAD = [
    ("profile: wuhou-county", "profile: Wuhou_1", "lower-case letters, digits and '-'", 1),
    ("base_version: 1.1.0", "base_version: 9.9.9", "written for base 9.9.9", 6),
    ('    "610": {zh: 县级就业补贴', '    "110": {zh: 县级就业补贴', "code '110' is already in", 9),
    ("  insurance_type:\n    \"610\"", "  insurance_typ:\n    \"610\"",
     "unknown code list 'insurance_typ' (did you mean 'insurance_type'?)", 8),
    ("{就业补贴: \"610\"}", "{企业养老: \"110\"}", "alias '企业养老' already maps to", 11),
    ("required: false", "required: true", "must be optional (required: false)", 15),
    ("name: subsidy_type, label_zh", "name: name, label_zh", "already has a field 'name'", 14),
    ("  person:", "  persons:", "unknown entity 'persons' (did you mean 'person'?)", 13),
    # found only once the merged standard is checked: still named in profile.yaml
    ("type: string,\n", "type: strng,\n", "unknown type 'strng'", 14),
    ("{就业补贴: \"610\"}", "{就业补贴: \"699\"}", "alias points at unknown code '699'", 11),
]


@pytest.mark.parametrize(("old", "new", "message", "line"), BAD, ids=[b[2][:30] for b in BAD])
def test_profile_problems_name_the_profile_file_and_line(
        tmp_path: Path, old: str, new: str, message: str, line: int) -> None:
    assert old in PROFILE
    root = write_profile(tmp_path / "standard", PROFILE.replace(old, new, 1))
    problems = check_standard(root)
    found = [p for p in problems if message in p.message]
    assert found, problems
    assert found[0].file == str(root / "profile.yaml") and found[0].line == line


def test_profile_cannot_redefine_a_base_code_list(tmp_path: Path) -> None:
    root = write_profile(tmp_path / "standard")
    (root / "codelists" / "gender.yaml").write_text(SUBSIDY.replace("subsidy_type", "gender"),
                                                    encoding="utf-8")
    (problem,) = check_standard(root)
    assert problem.file.endswith("gender.yaml") and "exists in the base standard" in \
        problem.message


def test_a_workspace_publishes_under_its_profile(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.config import load_config
    from hrss_hub.exchange.catalog import build_catalog
    from hrss_hub.exchange.reading import read_version
    from hrss_hub.exchange.storage import Store
    from hrss_hub.pipeline import run

    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI",
                 "HRSS_HUB_STANDARDS"):
        monkeypatch.delenv(name, raising=False)
    write_profile(tmp_path / "standard-profile")
    (tmp_path / "hub.yaml").write_text("hub_id: wuhou\nlevel: county\ndivision: '510107'\n"
                                       "standard: standard-profile\ngx: false\n",
                                       encoding="utf-8")
    (tmp_path / "connectors").mkdir()
    connector = {"system": "subsidy", "kind": "sql", "connection": {"url": "sqlite:///src.db"},
                 "streams": [{"name": "staff", "table": "staff", "primary_key": ["id"],
                              "mapping": {"entity": "person", "source_key": ["id"], "fields": {
                                  "citizen_id": "idno", "id_type": {"const": "01"},
                                  "name": "name", "gender": {"const": "2"},
                                  "birth_date": {"const": "1949-12-31"},
                                  "subsidy_type": "kind"}}}]}
    (tmp_path / "connectors" / "subsidy.yaml").write_text(
        yaml.safe_dump(connector, allow_unicode=True), encoding="utf-8")
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, kind TEXT)")
        db.executemany("INSERT INTO staff VALUES (?,?,?,?)",
                       [(1, "11010519491231002X", "王芳", "岗位补贴"),
                        (2, "110105194912310046", "李娜", "99")])
    cfg = load_config(tmp_path / "hub.yaml")
    summary = run(cfg)
    (stream,) = summary.systems[0].streams
    assert stream.status == "succeeded", stream.error
    assert (stream.published, stream.quarantined_by_rule) == (1, {"code_unknown": 1})
    rows = read_version(tmp_path / "exchange", "person").to_pylist()
    assert [r["subsidy_type"] for r in rows] == ["02"]  # the Chinese label, coded
    catalog = build_catalog(Store.open(cfg.exchange_uri))
    (person,) = [d for d in catalog["datasets"] if d["dataset"] == "person"]
    assert person["standard_version"] == "1.1.0+wuhou-county.1.2.0"


def test_a_profile_field_added_after_publishing_reaches_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The published table gains the new optional column as one signed version (before,
    its values were written into files under the old table schema and never readable)."""
    from hrss_hub.config import load_config
    from hrss_hub.exchange.reading import read_version
    from hrss_hub.exchange.verify import verify_path
    from hrss_hub.pipeline import run

    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI",
                 "HRSS_HUB_STANDARDS"):
        monkeypatch.delenv(name, raising=False)
    hub = "hub_id: wuhou\nlevel: county\ndivision: '510107'\ngx: false\n"
    (tmp_path / "hub.yaml").write_text(hub, encoding="utf-8")
    (tmp_path / "connectors").mkdir()
    fields: dict[str, object] = {"citizen_id": "idno", "id_type": {"const": "01"},
                                 "name": "name", "gender": {"const": "2"},
                                 "birth_date": {"const": "1949-12-31"}}

    def connector(extra: dict[str, object]) -> None:
        doc = {"system": "s", "kind": "sql", "connection": {"url": "sqlite:///src.db"},
               "streams": [{"name": "staff", "table": "staff", "primary_key": ["id"],
                            "cursor": "id", "mapping": {"entity": "person", "source_key": ["id"],
                                                        "fields": {**fields, **extra}}}]}
        (tmp_path / "connectors" / "s.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True),
                                                        encoding="utf-8")
    connector({})
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("CREATE TABLE staff (id INTEGER PRIMARY KEY, idno TEXT, name TEXT, kind TEXT)")
        db.execute("INSERT INTO staff VALUES (1, '11010519491231002X', '王芳', '01')")
    assert run(load_config(tmp_path / "hub.yaml")).status == "succeeded"
    write_profile(tmp_path / "standard-profile")
    (tmp_path / "hub.yaml").write_text(hub + "standard: standard-profile\n", encoding="utf-8")
    connector({"subsidy_type": "kind"})
    with sqlite3.connect(tmp_path / "src.db") as db:
        db.execute("INSERT INTO staff VALUES (2, '110105194912310046', '李娜', '岗位补贴')")
    caplog.clear()
    assert run(load_config(tmp_path / "hub.yaml")).status == "succeeded"
    assert "stale" not in caplog.text  # the bundled suites are the base's, by design
    rows = sorted(read_version(tmp_path / "exchange", "person").to_pylist(),
                  key=lambda r: r["source_key"])
    assert [r["subsidy_type"] for r in rows] == [None, "02"]
    reports = verify_path(tmp_path / "exchange" / "person", all_versions=True)
    assert reports and all(r.ok for r in reports), [r.problems for r in reports]


def test_the_data_dictionary_names_the_profile_and_its_additions(tmp_path: Path) -> None:
    from hrss_hub.standard.docs import render_html, render_markdown

    std = load_standard(write_profile(tmp_path / "standard"))
    md = render_markdown(std)
    assert "Data dictionary v1.1.0+wuhou-county.1.2.0" in md
    assert "## 标准扩展 Standard profile `wuhou-county` 1.2.0" in md
    assert "`+ 1 code(s) in insurance_type: 610`" in md and "subsidy_type" in md
    assert "Standard profile <code>wuhou-county</code>" in render_html(std)
    assert "Standard profile" not in render_markdown(load_standard())

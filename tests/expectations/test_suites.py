"""Generated suites are current; bad suites fail with the file and JSON path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hrss_hub.cli import cli
from hrss_hub.quality.suites import SuiteError, build_all, load_suites, parse_suite, stale_suites
from hrss_hub.standard.model import load_standard

REPO_ROOT = Path(__file__).resolve().parents[2]

SUITES = REPO_ROOT / "expectations"


def test_committed_suites_are_generated_from_the_current_standard() -> None:
    problems = stale_suites(SUITES, load_standard())
    assert not problems, "run `hrss-hub expectations build`:\n" + "\n".join(problems)


def test_every_committed_suite_loads() -> None:
    suites = load_suites(SUITES, load_standard())
    assert set(suites) == set(load_standard().entities)
    assert any(s.path.parent.name == "handwritten" for g in suites.values() for s in g)


def test_generation_is_deterministic_and_covers_the_standard() -> None:
    std = load_standard()
    first, second = build_all(std), build_all(std)
    assert first == second
    person = json.loads(first["person.json"])
    types = {(e["type"], e["meta"]["hrss_hub"]["field"]) for e in person["expectations"]}
    assert ("expect_column_values_to_be_valid_citizen_id", "citizen_id") in types
    assert ("expect_column_values_to_be_in_code_list", "gender") in types
    assert ("expect_gender_to_match_citizen_id", "gender") in types
    assert ("expect_column_values_to_be_unique_first_kept", "citizen_id") in types
    assert ("expect_column_values_to_match_regex", "phone") in types
    code = next(e for e in person["expectations"]
                if e["type"] == "expect_column_values_to_be_in_code_list"
                and e["kwargs"]["column"] == "gender")
    assert code["kwargs"]["code_list_version"] == std.code_list("gender").version


def test_check_flag_fails_on_a_stale_suite(tmp_path: Path) -> None:
    target = tmp_path / "expectations"
    shutil.copytree(SUITES, target)
    runner = CliRunner()
    ok = runner.invoke(cli, ["expectations", "build", "--check", "--dir", str(target)])
    assert ok.exit_code == 0, ok.output
    doc = json.loads((target / "person.json").read_text())
    doc["expectations"].pop()
    (target / "person.json").write_text(json.dumps(doc))
    stale = runner.invoke(cli, ["expectations", "build", "--check", "--dir", str(target)])
    assert stale.exit_code == 1
    assert "person.json: stale" in stale.output
    rebuilt = runner.invoke(cli, ["expectations", "build", "--dir", str(target)])
    assert rebuilt.exit_code == 0 and "1 suite file(s) written" in rebuilt.output


def _write(tmp_path: Path, doc: object | str) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"name": "person",\n "expectations": [,]}')
    with pytest.raises(SuiteError) as err:
        parse_suite(path, load_standard())
    assert "bad JSON" in str(err.value) and str(path) in str(err.value)
    assert "line=2" in str(err.value)


def test_unknown_expectation_names_file_and_path(tmp_path: Path) -> None:
    doc = json.loads((SUITES / "person.json").read_text())
    doc["expectations"][3]["type"] = "expect_column_values_to_be_valid_citizen_idd"
    path = _write(tmp_path, doc)
    with pytest.raises(SuiteError) as err:
        parse_suite(path, load_standard())
    text = str(err.value)
    assert "unknown expectation type" in text and "path=expectations[3].type" in text
    assert str(path) in text and "did you mean" in text


def test_unknown_column_and_stale_code_list_version(tmp_path: Path) -> None:
    std = load_standard()
    doc = json.loads((SUITES / "person.json").read_text())
    doc["expectations"][0]["kwargs"]["column"] = "citizenid"
    with pytest.raises(SuiteError, match=r"unknown column 'citizenid'.*path=expectations\[0\]"):
        parse_suite(_write(tmp_path, doc), std)
    doc = json.loads((SUITES / "person.json").read_text())
    i = next(i for i, e in enumerate(doc["expectations"])
             if e["type"] == "expect_column_values_to_be_in_code_list")
    doc["expectations"][i]["kwargs"]["code_list_version"] = "1999"
    with pytest.raises(SuiteError, match="code_list_version"):
        parse_suite(_write(tmp_path, doc), std)


def test_cli_reports_a_bad_suite_with_exit_code_2(tmp_path: Path) -> None:
    from hrss_hub.cli import main

    target = tmp_path / "expectations"
    shutil.copytree(SUITES, target)
    (target / "handwritten" / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["expectations", "check", "--dir", str(target)])
    assert exc.value.code == 2


def test_a_stale_generated_file_is_not_enforced(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """The gate enforces the standard it runs with: a stale generated file is replaced by the
    suite built from the standard (and said so), a missing one is built."""
    std = load_standard()
    target = tmp_path / "expectations"
    shutil.copytree(SUITES, target)
    doc = json.loads((target / "person.json").read_text())
    doc["expectations"] = doc["expectations"][:2]
    (target / "person.json").write_text(json.dumps(doc))
    (target / "employer.json").unlink()
    with caplog.at_level("WARNING", logger="hrss_hub.quality.suites"):
        suites = load_suites(target, std)
    assert "person.json is stale" in caplog.text
    fresh = json.loads(build_all(std)["person.json"])
    assert len(suites["person"][0].expectations) == len(fresh["expectations"])
    assert suites["employer"][0].path.name == "<generated employer.json>"
    # the hand-written suites still load next to them
    assert [s.name for s in suites["contribution"]] == ["contribution",
                                                        "contribution.references"]


def test_a_workspace_with_only_handwritten_suites_uses_them(tmp_path: Path) -> None:
    from hrss_hub.quality.suites import default_dir

    target = tmp_path / "expectations"
    (target / "handwritten").mkdir(parents=True)
    shutil.copy(SUITES / "handwritten" / "employment.references.json", target / "handwritten")
    assert default_dir(target) == target
    suites = load_suites(target, load_standard())
    assert [s.name for s in suites["employment"]] == ["employment", "employment.references"]
    assert [s.name for s in suites["contribution"]] == ["contribution"]

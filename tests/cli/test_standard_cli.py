"""``hrss-hub standard check`` / ``docs``: exit codes, messages, no tracebacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hrss_hub.cli import cli, main
from hrss_hub.config import bundled_standards_dir


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of the standard with an unknown code list and a YAML syntax error."""
    root = tmp_path / "standards" / "v1"
    shutil.copytree(bundled_standards_dir() / "v1", root)
    person = root / "entities" / "person.yaml"
    person.write_text(person.read_text(encoding="utf-8").replace(
        "code_list: ethnicity", "code_list: ethnicty"), encoding="utf-8")
    (root / "codelists" / "gender.yaml").write_text("name: gender\ncodes: {\n", encoding="utf-8")
    return root


@pytest.fixture
def no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder: no ./hub.yaml, so no mapping check."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_check_ok(no_workspace: Path) -> None:
    result = CliRunner().invoke(cli, ["standard", "check"])
    assert result.exit_code == 0, result.output
    from hrss_hub.quality.rules import registry

    assert result.stdout.splitlines() == ["standard v1.1.0: OK (10 entities, 18 code lists)",
                                          f"rules: {len(registry())} registered"]


def test_check_reports_every_problem_and_exits_1(no_workspace: Path, broken: Path) -> None:
    result = CliRunner().invoke(cli, ["standard", "check", "--standard", str(broken.parent)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    err = result.stderr
    assert f"{broken / 'entities' / 'person.yaml'}:" in err
    assert "fields[ethnicity].code_list: unknown code list 'ethnicty'" in err
    assert f"{broken / 'codelists' / 'gender.yaml'}:" in err and "invalid YAML" in err
    assert "OK" not in result.stdout


def test_main_returns_exit_codes(no_workspace: Path, broken: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["standard", "check"]) == 0
    assert main(["standard", "check", "--standard", str(broken)]) == 1
    captured = capsys.readouterr()
    assert "unknown code list 'ethnicty'" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_check_with_a_broken_workspace_file(no_workspace: Path) -> None:
    (no_workspace / "hub.yaml").write_text("levl: city\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["standard", "check"])
    assert result.exit_code == 1
    assert "unknown key 'levl'" in result.stderr and "did you mean 'level'" in result.stderr
    assert "division is required" in result.stderr and "Traceback" not in result.output


def test_check_runs_mapping_checks_with_a_workspace(no_workspace: Path) -> None:
    (no_workspace / "connectors").mkdir()
    (no_workspace / "hub.yaml").write_text("hub_id: test\nlevel: district\n"
                                           "division: '510107'\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["standard", "check"])
    assert result.exit_code == 0, result.output
    assert "standard v1.1.0: OK" in result.stdout
    assert "mappings: OK" in result.stdout


def test_docs_writes_both_formats(no_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "dict"
    result = CliRunner().invoke(cli, ["standard", "docs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    md, page = out / "data-dictionary.md", out / "data-dictionary.html"
    assert result.stdout.split() == [str(md), str(page)]
    assert "人员基本信息" in md.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page.read_text(encoding="utf-8")


def test_docs_single_format(no_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "dict"
    result = CliRunner().invoke(cli, ["standard", "docs", "--out", str(out), "--format", "html"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["data-dictionary.html"]


def test_docs_on_a_broken_standard_is_a_clear_error(
        no_workspace: Path, broken: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["standard", "docs", "--standard", str(broken), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the standard has") and "ethnicty" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_rules_lists_the_registry_and_what_an_entity_declares(no_workspace: Path) -> None:
    import json

    from hrss_hub.quality.rules import registry

    runner = CliRunner()
    listed = runner.invoke(cli, ["standard", "rules"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == list(registry().ids())
    assert "性别与身份号码不符 / gender contradicts citizen ID" in listed.output
    as_json = json.loads(runner.invoke(cli, ["standard", "rules", "--json"]).output)
    rule = next(r for r in as_json if r["id"] == "end_before_start")
    assert rule["declarable"] and rule["default_severity"] == "error"
    assert rule["parameters"][0].startswith("start (field (date/timestamp)) = 'start_date'")
    declared = json.loads(runner.invoke(
        cli, ["standard", "rules", "--entity", "employment", "--json"]).output)
    assert {"rule": "end_before_start", "field": "end_date", "severity": "error",
            "declared_at": "entities/employment.yaml#rules[0]",
            "expectation": "expect_end_date_not_before_start_date"} in declared
    assert declared[-1]["rule"] == "duplicate_key"
    with pytest.raises(SystemExit) as exc:
        main(["standard", "rules", "--entity", "employmnt"])
    assert exc.value.code == 2

"""``hrss-hub normalize``: output formats, stdin, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hrss_hub.cli import cli


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["normalize", *args], input=stdin)
    return result.exit_code, result.output


def test_all_valid_exits_zero() -> None:
    code, out = run("citizen-id", "11010519491231002x", "610104620927690")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("✓ '11010519491231002x' → 11010519491231002X")
    assert "birth_date=1949-12-31" in lines[0] and "gender=2" in lines[0]
    assert "610104196209276908" in lines[1] and "kind=legacy15" in lines[1]


def test_any_invalid_exits_one() -> None:
    code, out = run("citizen-id", "11010519491231002X", "11010519491231003X")
    assert code == 1
    assert out.splitlines()[1].startswith("✗") and "reason=checksum" in out


def test_json_output() -> None:
    code, out = run("citizen-id", "--json", "11010519491231002X", "abc")
    assert code == 1
    records = json.loads(out)
    assert [list(r)[:4] for r in records] == [["input", "valid", "normalized", "reason"]] * 2
    assert records[0]["birth_date"] == "1949-12-31"
    assert records[0]["kind"] == "citizen" and records[0]["address_code"] == "110105"
    assert records[1] == {**records[1], "valid": False, "reason": "length", "normalized": "ABC"}


def test_stdin_skips_blank_lines() -> None:
    code, out = run("uscc", "--json", stdin="91350100M000100Y43\n\n  \n91350100m000100y43\r\n")
    assert code == 0
    records = json.loads(out)
    assert [r["input"] for r in records] == ["91350100M000100Y43", "91350100m000100y43"]
    assert records[0]["org_code"] == "M000100Y4"


def test_org_code_and_dates() -> None:
    assert run("org-code", "M000100Y-4")[0] == 0
    code, out = run("date", "--json", "2023年1月5日", "2023-02-30")
    assert code == 1
    assert [(r["normalized"], r["reason"]) for r in json.loads(out)] == [
        ("2023-01-05", None),
        (None, "unparseable"),
    ]
    code, out = run("date", "--excel", "44931")
    assert code == 0 and "2023-01-05" in out


def test_known_divisions(tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("110101\n", encoding="utf-8")
    code, out = run("citizen-id", "--json", "--known-divisions", str(codes), "11010519491231002X")
    assert code == 0  # unknown county is flagged, not rejected
    assert json.loads(out)[0]["division_known"] is False


def test_unknown_kind_lists_choices() -> None:
    code, out = run("passport", "x")
    assert code == 2
    assert "citizen-id" in out and "org-code" in out

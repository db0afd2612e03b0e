"""``hrss-hub ledger upgrade`` and ``hrss-hub ledger runs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from hrss_hub.cli import cli, main
from hrss_hub.ledger import Ledger, head_revision


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRSS_HUB_LEDGER_URL", raising=False)


def test_upgrade_relative_sqlite_in_workspace(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n"
                                       "ledger_url: sqlite:///state/ledger.db\n")
    result = CliRunner().invoke(cli, ["ledger", "upgrade", "--config",
                                      str(tmp_path / "hub.yaml")])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    assert str(tmp_path / "state" / "ledger.db") in result.output
    assert (tmp_path / "state" / "ledger.db").exists()


def test_upgrade_hides_password(ledger_url: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = make_url(ledger_url)
    if url.get_backend_name() == "postgresql":  # trust auth: any password is accepted
        url = url.set(password="S3cretPw")
    monkeypatch.setenv("HRSS_HUB_LEDGER_URL", url.render_as_string(hide_password=False))
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["ledger", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "S3cretPw" not in result.output
    assert f"revision {head_revision()}" in result.output


def test_runs_table_and_json(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n"
                                       f"ledger_url: sqlite:///{db}\n")
    with Ledger.open(f"sqlite:///{db}") as led:
        first = led.start_run("hub", "cli")
        led.finish_run(first, "failed", {}, error="source si_core unreachable")
        second = led.start_run("hub", "airflow")
    config = ["--config", str(tmp_path / "hub.yaml")]
    table = CliRunner().invoke(cli, ["ledger", "runs", *config])
    assert table.exit_code == 0, table.output
    assert table.output.index(second) < table.output.index(first)
    assert "source si_core unreachable" in table.output
    as_json = CliRunner().invoke(cli, ["ledger", "runs", "--json", "--limit", "1", *config])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert [r["id"] for r in data] == [second] and data[0]["status"] == "running"


def test_runs_on_empty_workspace(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n")
    config = ["--config", str(tmp_path / "hub.yaml")]
    assert CliRunner().invoke(cli, ["ledger", "upgrade", *config]).exit_code == 0
    result = CliRunner().invoke(cli, ["ledger", "runs", *config])
    assert result.exit_code == 0 and "no runs recorded yet" in result.output


def test_runs_before_upgrade_is_a_clear_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n")
    with pytest.raises(SystemExit) as exit_:
        main(["ledger", "runs", "--config", str(tmp_path / "hub.yaml")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "not up to date" in err and "hrss-hub ledger upgrade" in err
    assert "Traceback" not in err


def test_unreachable_ledger_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HRSS_HUB_LEDGER_URL", "postgresql+psycopg://u:S3cretPw@127.0.0.1:1/x")
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["ledger", "upgrade"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and "S3cretPw" not in err

"""``hrss-hub audit verify|log`` only read: outside a workspace, or before it has a ledger,
they refuse and create nothing (defect 12: ``audit verify`` in an empty folder created a
ledger and reported it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hrss_hub.cli import main
from hrss_hub.ledger import Ledger


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HRSS_HUB_LEDGER_URL", "HRSS_HUB_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "log"]])
def test_an_empty_folder_is_no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str],
                                         command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no workspace here" in err and "Traceback" not in err
    assert _files(tmp_path) == []


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "log"]])
def test_a_workspace_without_a_ledger_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          command: list[str]) -> None:
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n",
                                       encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no ledger yet" in err and "hrss-hub run" in err and "intact" not in err
    assert _files(tmp_path) == ["hub.yaml"]  # no .hrss-hub/ledger.db made on the spot


def test_an_existing_ledger_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hub.yaml").write_text("level: district\ndivision: '510107'\n",
                                       encoding="utf-8")
    with Ledger.open(f"sqlite:///{tmp_path / '.hrss-hub' / 'ledger.db'}") as led:
        led.append_audit("tester", "publish", "person@v1", {"rows": 1})
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "verify"]) == 0
    assert "audit chain intact" in capsys.readouterr().out
    assert main(["audit", "log"]) == 0
    assert "person@v1" in capsys.readouterr().out

"""The top-level command line: lazy commands, help read from the sources, did-you-mean.

Start-up *time* is measured in ``bench/bench_cli_start.py``, never here; this module only
checks what ``hrss-hub --help`` imports.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import hrss_hub.cli as hub_cli
from hrss_hub.cli import COMMANDS, cli, help_stub

HEAVY = ("pyarrow", "sqlalchemy", "great_expectations", "pandas", "numpy")


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "from hrss_hub.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    lines = proc.stdout.strip().splitlines()
    assert "Commands:" in proc.stdout and "run" in proc.stdout
    assert json.loads(lines[-1]) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_line_is_the_commands_own(name: str) -> None:
    """What ``--help`` reads from the source equals what click shows once imported."""
    module_name, attr = COMMANDS[name].split(":")
    command = getattr(__import__(module_name, fromlist=[attr]), attr)
    assert isinstance(command, click.Command)
    stub = help_stub(name, COMMANDS[name])
    assert stub is not None
    for limit in (45, 200):
        assert stub.get_short_help_str(limit) == command.get_short_help_str(limit)
        assert stub.get_short_help_str(limit)  # every command says what it does


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"\n  {name} " in listed


def test_unknown_command_suggests_the_closest() -> None:
    result = CliRunner().invoke(cli, ["rn"])
    assert result.exit_code == 2
    assert "unknown command 'rn'" in result.output
    assert "did you mean 'run'?" in result.output
    far = CliRunner().invoke(cli, ["xyzzy"])
    assert far.exit_code == 2
    assert "did you mean" not in far.output and "valid: audit, catalog" in far.output


def test_unknown_command_through_main_exits_2_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "hrss_hub", "qurantine"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "did you mean 'quarantine'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_command_whose_module_is_not_built_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(hub_cli.COMMANDS, "ghost", "hrss_hub.cli.ghost:ghost")
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "ghost" not in result.output
    assert CliRunner().invoke(cli, ["ghost"]).exit_code == 2

"""Issue #15 point 9: an unknown command or subcommand names the closest one (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from hrss_hub.cli import COMMANDS, HubGroup, _load_target, main


def groups() -> Iterator[tuple[str, click.Group]]:
    def walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Group]]:
        if isinstance(command, click.Group):
            yield path, command
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")
    for name, target in sorted(COMMANDS.items()):
        command = _load_target(target)
        if command is not None:
            yield from walk(command, name)


def test_every_group_suggests() -> None:
    found = dict(groups())
    assert {"share", "share token", "demo", "quarantine"} <= set(found)
    for path, group in found.items():
        assert isinstance(group, HubGroup), f"hrss-hub {path} is a plain click group"


@pytest.mark.parametrize(("argv", "says"), [
    (["rn"], "unknown command 'rn'\n  hint: did you mean 'run'?"),
    (["share", "tokn", "list"], "unknown hrss-hub share command 'tokn'\n  hint: did you mean "
                                "'token'?"),
    (["share", "token", "revok", "x"], "did you mean 'revoke'? valid: create, list, revoke"),
    (["quarantine", "relase", "k"], "did you mean 'release'?"),
    (["demo", "inti"], "did you mean 'init'?"),
])
def test_unknown_subcommand(argv: list[str], says: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert says in capsys.readouterr().err

"""Issue #15 point 9: every command that reads hub.yaml exits 2 on a broken one, naming the
file and what is wrong — never a traceback. (``config check`` and ``standard check`` report
configuration as their result: exit 1, the problem on their output.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from hrss_hub.cli import COMMANDS, _load_target, main

#: commands whose job is to report configuration problems: exit 1 with the problem
CHECKERS = {"config check", "standard check"}

BROKEN = {
    "yaml syntax": ("level: [county\ndivision: '510107'\n", "hub.yaml"),
    "bad value": ("level: county-level\ndivision: '510107'\n", "did you mean 'county'"),
    "unknown key": ("level: county\ndivision: '510107'\nbatch_sise: 5\n",
                    "did you mean 'batch_size'"),
}


def config_commands() -> Iterator[tuple[str, list[str]]]:
    """(command path, argv without --config) of every command taking ``--config``; required
    arguments and options get a placeholder value."""
    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[str, list[str]]]:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
            return
        if not any("--config" in p.opts for p in command.params):
            return
        argv = list(path)
        for p in command.params:
            if isinstance(p, click.Argument) and p.required:
                argv.append("x")
            elif isinstance(p, click.Option) and p.required:
                argv += [p.opts[0], "x=y" if p.name == "sources" else "x"]
        yield " ".join(path), argv
    for name, target in sorted(COMMANDS.items()):
        command = _load_target(target)
        if command is not None:
            yield from walk(command, [name])


def run_main(argv: list[str]) -> object:
    """The exit code of ``hrss-hub ARGV`` as the console script sees it (an exception other
    than SystemExit propagates: that would be a traceback)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_the_table_covers_the_commands() -> None:
    names = {name for name, _ in config_commands()}
    assert {"run", "report", "ledger runs", "share token create", "quarantine release",
            "config show", "catalog"} <= names


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_hub_yaml_exits_2_without_traceback(
        broken: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    text, says = BROKEN[broken]
    (tmp_path / "hub.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HRSS_HUB_LEDGER_URL", raising=False)
    for name, argv in config_commands():
        for json_flag in ([], ["--json"]) if name == "run" else ([],):
            code = run_main([*argv, "--config", str(tmp_path / "hub.yaml"), *json_flag])
            out = capsys.readouterr()
            expected = 1 if name in CHECKERS else 2
            assert code == expected, (name, out.out, out.err)
            assert says in out.out + out.err, (name, out.out, out.err)
            assert "Traceback" not in out.out + out.err, name
            if json_flag:
                import json

                doc = json.loads(out.out)
                assert doc["exit_code"] == 2 and says in doc["error"] + str(doc["problems"])

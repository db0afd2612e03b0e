"""Issue #15 point 9: ``--json`` on every command, one documented shape per command.

Every leaf command reachable from ``hrss_hub.cli.COMMANDS`` has ``--json``; every one is
run once on a demo workspace and its stdout parses as JSON whose top-level keys are the
ones docs/cli.md documents for that command (for a list: the keys of its items).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from hrss_hub.cli import COMMANDS, _load_target, main

HUB = Path(sys.executable).parent / "hrss-hub"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
ENV = {k: v for k, v in os.environ.items() if k != "HRSS_HUB_LEDGER_URL"}

pytestmark = pytest.mark.slow


def leaf_commands() -> Iterator[tuple[str, click.Command]]:
    """``"share token create"`` → its command, for every runnable command."""
    def walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                yield path, command
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")
        else:
            yield path, command
    for name, target in sorted(COMMANDS.items()):
        command = _load_target(target)
        if command is not None:
            yield from walk(command, name)


def documented_shapes() -> dict[str, Any]:
    """``### `hrss-hub <command> --json` `` headings of docs/cli.md and their JSON blocks."""
    shapes: dict[str, Any] = {}
    for section in re.split(r"^(?=### )", DOCS.read_text(encoding="utf-8"), flags=re.M):
        heading = re.match(r"### `hrss-hub ([a-z -]+?) --json`", section)
        block = re.search(r"^```json\n(.*?)^```", section, re.M | re.S)
        if heading and block:
            shapes[heading.group(1)] = json.loads(block.group(1))
    return shapes


def test_every_command_has_json_and_a_documented_shape() -> None:
    shapes = documented_shapes()
    for path, command in leaf_commands():
        options = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
        assert "--json" in options, f"hrss-hub {path} has no --json"
        assert path in shapes, f"docs/cli.md documents no JSON shape of hrss-hub {path}"


def keys_of(doc: Any) -> set[str] | None:
    """The keys a shape check compares: of an object, or of a list's first item."""
    if isinstance(doc, dict):
        return set(doc)
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        return set(doc[0])
    return None


def hub(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``hrss-hub ARGS`` in this process (as the console script runs it: ``main``), its
    stdout and stderr captured — a subprocess per command would take minutes."""
    out, err = io.StringIO(), io.StringIO()
    # commands run in this process may set variables (the demo API's token and URL): the
    # whole environment is restored, so later tests never see them
    saved_env = dict(os.environ)
    saved_dir = Path.cwd()
    os.environ.pop("HRSS_HUB_LEDGER_URL", None)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(saved_dir)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    ws = tmp_path_factory.mktemp("json") / "demo"
    result = hub("demo", "--dir", str(ws), "--persons", "60", "--seed", "5", "--json",
                 cwd=ws.parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return ws, json.loads(result.stdout)


def first_line_json(args: list[str], cwd: Path) -> Any:
    """A server's ``--json`` start-up line (then the server is stopped)."""
    proc = subprocess.Popen([str(HUB), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=cwd)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        return json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def collect_outputs(ws: Path, demo_doc: Any, tmp_path: Path) -> dict[str, Any]:
    """Every command's ``--json`` document, run on the demo workspace ``ws``."""
    outputs: dict[str, Any] = {"demo": demo_doc}
    exchange = str(ws / "exchange")
    # (command, argv after "hrss-hub", exit codes allowed); run in this order, in ws
    cases: list[tuple[str, list[str], tuple[int, ...]]] = [
        ("audit verify", ["audit", "verify"], (0,)),
        ("audit log", ["audit", "log", "--limit", "3"], (0,)),
        ("catalog", ["catalog"], (0,)),
        ("config show", ["config", "show"], (0,)),
        ("config check", ["config", "check"], (0,)),
        ("connectors check", ["connectors", "check"], (0, 1)),  # the demo API is not up
        ("connectors discover", ["connectors", "discover", "si_core"], (0,)),
        ("demo init", ["demo", "init", "--dir", str(tmp_path / "d2"), "--persons", "20"], (0,)),
        ("demo append", ["demo", "append", "--dir", str(tmp_path / "d2"), "--persons", "5"],
         (0,)),
        ("exchange optimize", ["exchange", "optimize"], (0,)),
        ("exchange vacuum", ["exchange", "vacuum", "--dry-run"], (0,)),
        ("exchange history", ["exchange", "history", "person"], (0,)),
        ("expectations build", ["expectations", "build", "--dir", str(tmp_path / "ex")], (0,)),
        ("expectations check", ["expectations", "check"], (0,)),
        ("init", ["init", str(tmp_path / "new"), "--level", "county", "--division", "510107"],
         (0,)),
        ("ledger upgrade", ["ledger", "upgrade"], (0,)),
        ("ledger runs", ["ledger", "runs"], (0,)),
        ("normalize", ["normalize", "citizen-id", "11010519491231002X"], (0,)),
        ("publish pending", ["publish", "pending"], (0,)),
        ("publish keygen", ["publish", "keygen", str(tmp_path / "k.pem")], (0,)),
        ("publish public-key", ["publish", "public-key"], (0,)),
        ("publish merge-upstream", ["publish", "merge-upstream", "--dataset", "person",
                                    "--source", f"self={exchange}"], (0, 1, 2)),
        ("quarantine list", ["quarantine", "list"], (0,)),
        ("report", ["report"], (0,)),
        ("run", ["run"], (0, 1)),  # the demo API is not up: employment fails
        ("share list", ["share", "list"], (0,)),
        ("share token create", ["share", "token", "create", "civil-affairs", "--out",
                                str(tmp_path / "ca.share")], (0,)),
        ("share token list", ["share", "token", "list"], (0,)),
        ("share token revoke", ["share", "token", "revoke", "civil-affairs"], (0,)),
        ("sharing check", ["sharing", "check"], (0,)),
        ("sharing list", ["sharing", "list"], (0,)),
        ("standard check", ["standard", "check"], (0,)),
        ("standard rules", ["standard", "rules"], (0,)),
        ("standard docs", ["standard", "docs", "--out", str(tmp_path / "dd")], (0,)),
        ("verify", ["verify", exchange], (0,)),
        ("supervise", ["supervise"], (0,)),
        ("findings list", ["findings", "list"], (0,)),
        ("master build", ["master", "build"], (0,)),
        ("master review list", ["master", "review", "list"], (0,)),
        # the demo world plants no 一人多号 pair: an unknown id gives the error document
        ("master review accept", ["master", "review", "accept", "Rnone", "--by", "a",
                                  "--reason", "b"], (2,)),
        ("master review reject", ["master", "review", "reject", "Rnone", "--by", "a",
                                  "--reason", "b"], (2,)),
    ]
    for name, args, codes in cases:
        result = hub(*args, "--json", cwd=ws)
        assert result.returncode in codes, (name, result.stdout[-1500:], result.stderr[-1500:])
        try:
            outputs[name] = json.loads(result.stdout)
        except ValueError as exc:
            raise AssertionError(f"hrss-hub {name} --json: {exc}: {result.stdout[:500]!r}") \
                from None
    rows = outputs["quarantine list"]
    assert rows, "the demo quarantines rows"
    for action in ("release", "reject"):
        row = rows.pop()
        result = hub("quarantine", action, row["row_key"], "--system", row["system"], "--by",
                     "auditor", "--reason", "checked by hand", "--json", cwd=ws)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs[f"quarantine {action}"] = json.loads(result.stdout)
    found = outputs["findings list"]
    assert len(found) >= 2, "the demo plants supervision cases"
    for action in ("confirm", "dismiss"):
        result = hub("findings", action, found.pop()["id"], "--by", "auditor", "--reason",
                     "checked by hand", "--json", cwd=ws)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs[f"findings {action}"] = json.loads(result.stdout)
    outputs["demo serve"] = first_line_json(["demo", "serve", "--dir", str(ws), "--port", "0",
                                             "--json"], ws)
    with socket.socket() as sock:  # a free port (the sharing server needs a real one)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outputs["share serve"] = first_line_json(["share", "serve", "--port", str(port), "--json"],
                                             ws)
    return outputs


def test_every_command_prints_its_documented_shape(demo: tuple[Path, Any],
                                                   tmp_path: Path) -> None:
    shapes = documented_shapes()
    outputs = collect_outputs(*demo, tmp_path)
    for path, _ in leaf_commands():
        assert path in outputs, f"hrss-hub {path} --json was not run"
        out = outputs[path]
        if isinstance(out, dict) and "error" in out:  # a failure is the error document
            assert set(out) >= {"error", "hint", "exit_code"}, (path, out)
            continue
        assert type(out) is type(shapes[path]), path
        shape = shapes[path]
        if isinstance(shape, dict) and len(shape) == 1 and next(iter(shape)).startswith("<"):
            # keyed by name (e.g. "<stream>"): every value has the documented value's shape
            (shape,) = shape.values()
            for value in out.values():
                assert keys_of(value) == keys_of(shape), (path, value)
            continue
        got, documented = keys_of(out), keys_of(shape)
        if got is not None and documented is not None:
            assert got == documented, (path, sorted(got ^ documented))

"""The ``hrss-hub`` command line.

Subcommands live in sibling modules, registered below by one line each and imported only
when that command runs (or its own ``--help`` is shown): ``hrss-hub --help`` imports
neither pyarrow nor SQLAlchemy nor Great Expectations, and ``hrss-hub normalize`` does
not pay for the pipeline. The one-line help in ``hrss-hub --help`` is read from each
command's docstring in its source file, without importing it, so the command's docstring
stays the one place that says what it does.

A ``HubError`` becomes a clear message on stderr and exit code 2 (under ``--json`` also a
JSON document on stdout, :func:`hrss_hub.cli.output.error_document`); nothing else is
swallowed. An unknown command or subcommand gets a did-you-mean hint: every group is a
:class:`HubGroup`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import click
from click.utils import make_str

from hrss_hub.errors import HubError, unknown_choice

#: command name -> "module:attribute" of its click command, imported on use
COMMANDS: dict[str, str] = {
    "audit": "hrss_hub.cli.audit:audit",
    "catalog": "hrss_hub.cli.catalog:catalog",
    "config": "hrss_hub.cli.config:config",
    "connectors": "hrss_hub.cli.connectors:connectors",
    "demo": "hrss_hub.cli.demo:demo",
    "exchange": "hrss_hub.cli.exchange:exchange",
    "init": "hrss_hub.cli.init:init",
    "expectations": "hrss_hub.cli.expectations:expectations",
    "findings": "hrss_hub.cli.supervision:findings",
    "ledger": "hrss_hub.cli.ledger:ledger",
    "master": "hrss_hub.cli.master:master",
    "normalize": "hrss_hub.cli.normalize:normalize",
    "publish": "hrss_hub.cli.publish:publish",
    "quarantine": "hrss_hub.cli.quarantine:quarantine",
    "report": "hrss_hub.cli.report:report",
    "run": "hrss_hub.cli.run:run",
    "share": "hrss_hub.cli.share:share",
    "sharing": "hrss_hub.cli.sharing:sharing",
    "standard": "hrss_hub.cli.standard:standard",
    "supervise": "hrss_hub.cli.supervision:supervise",
    "verify": "hrss_hub.cli.verify:verify",
}


def _source_file(module_name: str) -> Path | None:
    """The ``.py`` file of a command module, found without importing it (None: not built)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin)


def _decorator_keywords(decorators: list[ast.expr]) -> dict[str, Any]:
    """Literal keywords of the ``@….command(…)`` / ``@….group(…)`` decorator (not of an
    ``@click.option``, whose ``help=`` documents the option)."""
    for deco in decorators:
        if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute | ast.Name) \
                and getattr(deco.func, "attr", getattr(deco.func, "id", "")) in (
                    "command", "group"):
            return {kw.arg: kw.value.value for kw in deco.keywords
                    if kw.arg in ("help", "short_help", "deprecated")
                    and isinstance(kw.value, ast.Constant)}
    return {}


def help_stub(name: str, target: str) -> click.Command | None:
    """A stand-in for command ``module:attribute`` carrying only its help, as click takes
    it (``help=`` / ``short_help=`` of its decorator, else its docstring), read from the
    source file without importing the module; ``None`` when the module does not exist."""
    module_name, attr = target.split(":")
    path = _source_file(module_name)
    if path is None:
        return None
    if path.suffix != ".py":  # compiled-only install: import it, correctness over speed
        return _load_target(target)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            keywords = _decorator_keywords(node.decorator_list)
            doc = ast.get_docstring(node, clean=False)
            if "help" not in keywords and doc:
                keywords["help"] = inspect.cleandoc(doc)
            return click.Command(name, **keywords)
    return click.Command(name)


def _load_target(target: str) -> click.Command | None:
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # that command is not built (yet); hide it
            return None
        raise
    command: click.Command = getattr(module, attr)
    return command


class HubGroup(click.Group):
    """A click group whose unknown subcommand gets "did you mean …? valid: …" (exit 2)."""

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = make_str(args[0])
        if not ctx.resilient_parsing and not name.startswith("-") \
                and self.get_command(ctx, name) is None:
            kind = "command" if ctx.parent is None else f"{ctx.command_path} command"
            err = unknown_choice(kind, name, self.list_commands(ctx))
            ctx.fail(f"{err.message}\n  hint: {err.hint}")
        return super().resolve_command(ctx, args)


class LazyGroup(HubGroup):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items()
                      if _source_file(target.split(":")[0]) is not None)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the same layout as click's, from the sources: ``--help`` imports no command
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            stub = help_stub(name, COMMANDS[name])
            rows.append((name, stub.get_short_help_str(limit) if stub is not None else ""))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        return None if target is None else _load_target(target)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hrss-hub")
def cli() -> None:
    """hrss-hub: pull HR and social-security records out of incompatible systems, map them
    onto one data standard, check their quality and publish them for sharing."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``hrss-hub`` console script."""
    from hrss_hub.arrow_memory import return_freed_pages

    return_freed_pages()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        rv = cli.main(args=args, prog_name="hrss-hub", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        if "--json" in args:  # a script reading stdout still gets one JSON document
            _json_error(exc)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


def _json_error(exc: HubError) -> None:
    """The error as the JSON document of ``--json`` (problems listed when it has several)."""
    from dataclasses import asdict

    from hrss_hub.cli.output import emit_json, error_document
    from hrss_hub.config.problems import problems_of

    problems = [asdict(p) for p in problems_of([exc])]
    emit_json(error_document(str(exc), 2, exc.hint, problems))

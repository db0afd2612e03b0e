"""The ``hrss-hub`` command line.

Subcommands live in sibling modules and are imported lazily, so ``hrss-hub normalize``
does not pay for importing Great Expectations or SQLAlchemy. A ``HubError`` becomes a
clear message on stderr and exit code 2; nothing else is swallowed.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from hrss_hub.errors import HubError

# command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "normalize": ("hrss_hub.cli.normalize", "normalize",
                  "Validate and normalize identifiers and dates."),
    "standard": ("hrss_hub.cli.standard", "standard",
                 "Check the unified data standard or render its dictionary."),
    "ledger": ("hrss_hub.cli.ledger", "ledger", "Create or upgrade the ledger database."),
    "connectors": ("hrss_hub.cli.connectors", "connectors",
                   "Check source systems and discover their streams."),
    "run": ("hrss_hub.cli.run", "run", "Run extract → map → validate → publish."),
    "demo": ("hrss_hub.cli.demo", "demo", "Create the demo world and run the hub on it."),
    "expectations": ("hrss_hub.cli.expectations", "expectations",
                     "Generate the Great Expectations suites from the standard."),
    "report": ("hrss_hub.cli.report", "report", "Write the quality report of a run (HTML/JSON)."),
    "quarantine": ("hrss_hub.cli.quarantine", "quarantine",
                   "List, release or reject quarantined rows."),
    "catalog": ("hrss_hub.cli.catalog", "catalog",
                "List published datasets, versions, schemas and recipients."),
    "verify": ("hrss_hub.cli.verify", "verify",
               "Verify a dataset or outbox: signature, checksums, schema."),
    "sharing": ("hrss_hub.cli.sharing", "sharing", "Check and list sharing agreements."),
    "audit": ("hrss_hub.cli.audit", "audit", "Verify and show the audit log."),
    "config": ("hrss_hub.cli.config", "config",
               "Show the workspace's settings or check every configuration file."),
    "publish": ("hrss_hub.cli.publish", "publish",
                "Publish staged rows, deliver to recipients, manage signing keys."),
    "exchange": ("hrss_hub.cli.exchange", "exchange",
                 "Maintain the exchange's Delta tables: optimize, vacuum, history."),
    "share": ("hrss_hub.cli.share", "share", "Serve outboxes over Delta Sharing; tokens."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # help text comes from the table above so that ``--help`` imports nothing heavy
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        spec = _COMMANDS.get(name)
        if spec is None:
            return None
        module_name, attr, _ = spec
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that command is not built (yet); hide it
                return None
            raise
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hrss-hub")
def cli() -> None:
    """hrss-hub: pull HR and social-security records out of incompatible systems, map them
    onto one data standard, check their quality and publish them for sharing."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``hrss-hub`` console script."""
    try:
        rv = cli.main(args=argv, prog_name="hrss-hub", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)

"""``hrss-hub connectors``: check source-system YAML files and discover their streams."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from hrss_hub.errors import HubError

if TYPE_CHECKING:
    from hrss_hub.config import HubConfig


def _workspace(config: str | None) -> HubConfig:
    from hrss_hub.config import load_config

    return load_config(config)


@click.group()
def connectors() -> None:
    """Check source systems and discover their streams."""


@connectors.command()
@click.argument("system", required=False)
@click.option("--config", "config", type=click.Path(), help="hub.yaml of the workspace.")
@click.option("--connect/--no-connect", default=True, show_default=True,
              help="Also connect to each source and discover its streams.")
def check(system: str | None, config: str | None, connect: bool) -> None:
    """Load every connectors/*.yaml (or only SYSTEM); print OK or what to fix."""
    from hrss_hub.connectors.config import connector_files, load_system
    from hrss_hub.connectors.registry import create_connector

    hub = _workspace(config)
    folder = hub.connectors_dir
    assert folder is not None
    files = connector_files(folder) if folder.is_dir() else []
    if not files:
        click.echo(f"no connector files in {folder}", err=True)
        sys.exit(1)
    failed = checked = 0
    for file in files:
        try:
            cfg = load_system(file, hub.root, hub=hub)
            if system and cfg.system != system:
                continue
            checked += 1
            if connect:
                create_connector(cfg).check()
            streams = ", ".join(s.name for s in cfg.streams)
            click.echo(f"OK    {cfg.system} ({cfg.kind}): {streams}")
        except HubError as exc:
            if system and file.stem != system:
                continue
            checked += 1
            failed += 1
            click.echo(f"FAIL  {file.name}: {exc}")
    if system and not checked:
        click.echo(f"no connector file defines system {system!r}", err=True)
        sys.exit(1)
    if failed:
        sys.exit(1)


@connectors.command()
@click.argument("system")
@click.option("--config", "config", type=click.Path(), help="hub.yaml of the workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print the schemas as JSON.")
def discover(system: str, config: str | None, as_json: bool) -> None:
    """Print SYSTEM's streams and the Arrow schema of each."""
    from hrss_hub.connectors.config import load_workspace_systems
    from hrss_hub.connectors.drift import schema_to_json
    from hrss_hub.connectors.registry import create_connector
    from hrss_hub.errors import unknown_choice

    hub = _workspace(config)
    systems = load_workspace_systems(hub)
    if system not in systems:
        raise unknown_choice("system", system, systems, path=str(hub.connectors_dir))
    schemas = create_connector(systems[system]).discover()
    if as_json:
        click.echo(json.dumps({name: schema_to_json(s) for name, s in schemas.items()},
                              ensure_ascii=False, indent=2))
        return
    for name, schema in schemas.items():
        click.echo(f"{system}.{name}")
        for field in schema:
            click.echo(f"  {field.name:<24} {field.type}")

"""``hrss-hub connectors``: check source-system YAML files and discover their streams."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hrss_hub.cli import HubGroup
from hrss_hub.errors import HubError

if TYPE_CHECKING:
    from hrss_hub.config import HubConfig


def _workspace(config: str | None) -> HubConfig:
    from hrss_hub.config import load_config

    return load_config(config)


@click.group(cls=HubGroup)
def connectors() -> None:
    """Check source systems and discover their streams."""


@dataclass
class _Checked:
    """The outcome of checking one connector file."""

    file: str
    system: str | None = None
    kind: str | None = None
    streams: list[str] = field(default_factory=list)
    #: the file could not be loaded or the source not reached (one message)
    error: str | None = None
    #: mapped columns the source does not have: system, stream, path, column, message
    problems: list[dict[str, str]] = field(default_factory=list)
    #: streams whose columns could not be checked (no connection, nothing declared)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "system": self.system, "kind": self.kind,
                "status": "ok" if self.ok else "failed", "streams": self.streams,
                "error": self.error, "problems": self.problems,
                "columns_unchecked": self.unchecked}


def _check_file(file: Path, hub: HubConfig, connect: bool) -> _Checked:
    """Load one connector file (with the workspace's defaults), optionally connect, and
    check every mapped column."""
    from hrss_hub.connectors.base import ConnectorKind
    from hrss_hub.connectors.config import load_system
    from hrss_hub.connectors.registry import create_connector
    from hrss_hub.mapping.check import missing_columns
    from hrss_hub.mapping.spec import parse_mapping

    result = _Checked(file.name)
    try:
        cfg = load_system(file, hub.root, hub=hub)
        result.system, result.kind = cfg.system, cfg.kind
        result.streams = [s.name for s in cfg.streams]
        connector = create_connector(cfg)
        if connect:
            connector.check()
            discovered = connector.discover()
        for i, stream in enumerate(cfg.streams):
            if stream.mapping is None:
                continue
            where = f"streams[{i}].mapping"
            try:
                spec = parse_mapping(stream.mapping, str(file), where)
            except HubError as exc:
                result.problems.append({"system": cfg.system, "stream": stream.name,
                                        "path": str(exc.context.get("path", where)),
                                        "column": "", "suggestion": "",
                                        "message": exc.message})
                continue
            columns = (list(discovered[stream.name].names) if connect
                       else connector.declared_columns(stream.name)
                       if isinstance(connector, ConnectorKind) else None)
            if columns is None:
                result.unchecked.append(stream.name)
                continue
            for col, path, close in missing_columns(spec, columns):
                result.problems.append({
                    "system": cfg.system, "stream": stream.name, "path": path, "column": col,
                    "suggestion": close, "message": f"column {col!r} is not in the source"
                    + (f" (did you mean {close!r}?)" if close else "")})
    except HubError as exc:
        result.error = str(exc)
    return result


@connectors.command()
@click.argument("system", required=False)
@click.option("--config", "config", type=click.Path(), help="hub.yaml of the workspace.")
@click.option("--connect/--no-connect", default=True, show_default=True,
              help="Connect to each source, discover its streams and check every mapped "
                   "column against them (without: only columns the YAML declares).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(system: str | None, config: str | None, connect: bool, as_json: bool) -> None:
    """Load every connectors/*.yaml (or only SYSTEM); print OK or what to fix.

    Exit code 1 when a file is broken, a source unreachable or a mapped column missing.
    """
    from hrss_hub.connectors.config import connector_files

    hub = _workspace(config)
    folder = hub.connectors_dir
    assert folder is not None
    files = connector_files(folder) if folder.is_dir() else []
    if not files:
        click.echo(f"no connector files in {folder}", err=True)
        sys.exit(1)
    results = []
    for file in files:
        result = _check_file(file, hub, connect)
        if system and (result.system or file.stem) != system:
            continue
        results.append(result)
    if system and not results:
        click.echo(f"no connector file defines system {system!r}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"connect": connect, "files": [r.to_json() for r in results]},
                              ensure_ascii=False, indent=2))
    else:
        for r in results:
            _print_checked(r, connect)
    if not all(r.ok for r in results):
        sys.exit(1)


def _print_checked(r: _Checked, connect: bool) -> None:
    if r.error is not None:
        click.echo(f"FAIL  {r.file}: {r.error}")
        return
    if r.problems:
        click.echo(f"FAIL  {r.file}: {len(r.problems)} mapped column problem(s)")
        for p in r.problems:
            click.echo(f"      {p['system']}/{p['stream']} {p['path']}: {p['message']}")
        return
    click.echo(f"OK    {r.system} ({r.kind}): {', '.join(r.streams)}")
    if r.unchecked:
        why = "without a connection" if not connect else "nothing to check against"
        click.echo(f"      mapped columns not checked {why}: {', '.join(r.unchecked)}")


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
        for column in schema:
            click.echo(f"  {column.name:<24} {column.type}")

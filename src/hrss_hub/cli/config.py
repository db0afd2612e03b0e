"""``hrss-hub config``: the workspace's settings, where each comes from, and every problem.

``show`` prints each setting's final value and its origin (``default``, ``hub.yaml``, an
environment variable, or a command-line flag), secrets masked. ``check`` validates every
file a user writes — hub.yaml, every connector file with its mappings, every sharing
agreement — and lists every problem of every file at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path),
                       default=None,
                       help="hub.yaml of the workspace (default: $HRSS_HUB_CONFIG, ./hub.yaml).")

#: settings shown by ``config show``, in this order
_SHOWN = ("hub_id", "level", "division", "standard_dir", "connectors_dir", "expectations_dir",
          "sharing_dir", "ledger_url", "exchange_root", "exchange_uri", "outbox_uri",
          "quarantine_dir", "reports_dir", "state_dir", "pseudonym_keys_dir", "batch_size",
          "keep_versions", "signing_key", "signature_suite", "source_precedence", "parallel",
          "gx", "gx_rows", "threshold", "airflow_queue", "supervision_dir", "share", "master",
          "duckdb")


def _shown(name: str, value: Any) -> Any:
    from hrss_hub.errors import redact

    if name == "signing_key" and isinstance(value, str) and value.lstrip().startswith("-----"):
        return "(PEM text from the environment)"
    if name == "gx_rows" and value is None:
        return "all"
    if name == "threshold":
        return value.as_dict()
    if name in ("share", "master", "duckdb"):
        return dict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return redact(value) if isinstance(value, str) else value


@click.group("config", cls=HubGroup)
def config() -> None:
    """Show the workspace's settings or check every configuration file."""


@config.command()
@_CONFIG
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {setting: {value, origin}}.")
def show(config_path: Path | None, as_json: bool) -> None:
    """Every setting's value and where it comes from (flag > env > hub.yaml > default)."""
    from hrss_hub.config import env, load_config

    cfg = load_config(config_path)
    rows = {name: {"value": _shown(name, getattr(cfg, name)),
                   "origin": cfg.origins.get(name, "default")} for name in _SHOWN}
    if as_json:
        click.echo(json.dumps({"file": str(cfg.source_file), "settings": rows},
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"workspace {cfg.source_file} ({cfg.tier} tier)")
    for name, row in rows.items():
        click.echo(f"  {name:<20} {row['value']!s:<48} {row['origin']}")
    for name in env.unknown_variables():
        click.echo(f"warning: {name} is set but hrss-hub does not read it (misspelt?)",
                   err=True)


@config.command()
@_CONFIG
@json_option
def check(config_path: Path | None, as_json: bool) -> None:
    """Validate hub.yaml, every connector file (with its mappings) and every agreement;
    print every problem, exit 1 if there is any."""
    from dataclasses import asdict

    from hrss_hub.config import ConfigProblems, env, load_config
    from hrss_hub.config.problems import Problem, problems_of
    from hrss_hub.connectors.config import connector_files, validate_system_file
    from hrss_hub.errors import ConfigError
    from hrss_hub.exchange.policy import load_agreements

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        found = problems_of([exc]) or [Problem("hub.yaml", None, "", str(exc))]
        if as_json:
            emit_json({"file": str(config_path or "hub.yaml"), "connector_files": 0,
                       "agreements": 0, "problems": [asdict(p) for p in found],
                       "warnings": []})
        else:
            _print(found)
        sys.exit(1)
    problems: list[Problem] = []
    files = connector_files(cfg.connectors_dir) if cfg.connectors_dir and \
        cfg.connectors_dir.is_dir() else []
    for file in files:
        try:
            validate_system_file(file)
        except ConfigProblems as exc:
            problems.extend(exc.problems)
    try:
        agreements = load_agreements(cfg.sharing_dir)
    except ConfigProblems as exc:
        problems.extend(exc.problems)
        agreements = []
    warnings = [f"{name} is set but hrss-hub does not read it (misspelt?)"
                for name in env.unknown_variables()]
    if as_json:
        emit_json({"file": str(cfg.source_file), "connector_files": len(files),
                   "agreements": len(agreements), "problems": [asdict(p) for p in problems],
                   "warnings": warnings})
        sys.exit(1 if problems else 0)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    _print(problems)
    click.echo(f"{cfg.source_file}: {len(files)} connector file(s), {len(agreements)} "
               f"agreement(s): {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


def _print(problems: list[Any]) -> None:
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        text = f"{where}: {p.path}: {p.message}" if p.path else f"{where}: {p.message}"
        click.echo(text + (f" ({p.hint})" if p.hint else ""))

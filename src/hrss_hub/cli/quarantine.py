"""``hrss-hub quarantine list|release|reject``: review quarantined rows; decisions go to the
ledger (and its audit chain) with who and why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option

_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                       help="hub.yaml of the workspace (default: ./hub.yaml if present).")


@click.group(cls=HubGroup)
def quarantine() -> None:
    """List, release or reject quarantined rows."""


@quarantine.command("list")
@_CONFIG
@click.option("--run", "run_id", default=None, help="Only this run's rows.")
@click.option("--status", default=None,
              type=click.Choice(["open", "released", "rejected", "resolved"]))
@json_option
def list_cmd(config_path: Path | None, run_id: str | None, status: str | None,
             as_json: bool) -> None:
    """Quarantined rows with rules, source location and status."""
    from hrss_hub.config import load_config
    from hrss_hub.ledger import Ledger
    from hrss_hub.quality.report import mask_id
    from hrss_hub.quality.reprocess import list_rows

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        rows = [r for r in list_rows(cfg, ledger, run_id) if status in (None, r.status)]
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r.status:9} {r.ref} key={mask_id(r.row_key)} "
                   f"{','.join(r.rules)} @ {mask_id(r.location)}")
    click.echo(f"{len(rows)} row(s)")


def _decide(action: str, config_path: Path | None, keys: tuple[str, ...], system: str,
            run_id: str | None, actor: str, reason: str, as_json: bool) -> None:
    from hrss_hub.config import load_config
    from hrss_hub.errors import HubError
    from hrss_hub.ledger import Ledger
    from hrss_hub.quality.reprocess import decide, list_rows

    cfg = load_config(config_path)
    with Ledger.open(cfg.ledger_url) as ledger:
        listed = [r for r in list_rows(cfg, ledger, run_id) if r.system == system]
        # a key is the source key or the reference id the quality report shows beside it
        rows = {**{r.row_key: r for r in listed}, **{r.ref: r for r in listed}}
        missing = [k for k in keys if k not in rows]
        if missing:
            raise HubError(f"not quarantined: {', '.join(missing)}", {"system": system},
                           "see: hrss-hub quarantine list")
        for k in keys:
            decide(ledger, rows[k], action, actor, reason)
    if as_json:
        emit_json({"action": action, "system": system, "rows": len(keys), "actor": actor})
        return
    click.echo(f"{action}d {len(keys)} row(s) of {system} by {actor}")


_ARGS: list[Any] = [
    click.argument("keys", nargs=-1, required=True),
    click.option("--system", required=True, help="Source system of the rows."),
    click.option("--run", "run_id", default=None, help="Quarantine run (default: any)."),
    click.option("--by", "actor", required=True, help="Who decides (recorded)."),
    click.option("--reason", required=True, help="Why (recorded)."),
    _CONFIG,
    json_option,
]


F = TypeVar("F", bound=Callable[..., None])


def _with_args(fn: F) -> F:
    for deco in reversed(_ARGS):
        fn = deco(fn)
    return fn


@quarantine.command()
@_with_args
def release(keys: tuple[str, ...], system: str, run_id: str | None, actor: str, reason: str,
            config_path: Path | None, as_json: bool) -> None:
    """Release rows (by source key or the report's reference id RUN/SYSTEM/STREAM#N): the
    next run publishes them as they are."""
    _decide("release", config_path, keys, system, run_id, actor, reason, as_json)


@quarantine.command()
@_with_args
def reject(keys: tuple[str, ...], system: str, run_id: str | None, actor: str, reason: str,
           config_path: Path | None, as_json: bool) -> None:
    """Reject rows for good (they stay out of every exchange)."""
    _decide("reject", config_path, keys, system, run_id, actor, reason, as_json)

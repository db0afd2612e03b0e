"""``hrss-hub demo``: the demo world of 武侯区 — four incompatible source systems with a known
answer key.

``demo init`` writes the workspace, ``demo serve`` runs its employment-services REST API,
``demo append`` adds newer records for an incremental run. A bare ``hrss-hub demo`` runs
the whole tour (see ``_run_demo``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option, quiet_option

DEFAULT_DIR = Path("hrss-demo")


def _run_demo(ctx: click.Context, dir: Path, persons: int, seed: int, as_json: bool = False,
              quiet: bool = False) -> None:
    """The bare ``hrss-hub demo``: init (if needed), serve, run, compare with the key."""
    from hrss_hub.demo_tour import run_demo

    ctx.exit(run_demo(dir, persons, seed, as_json=as_json, quiet=quiet))


@click.group(cls=HubGroup, invoke_without_command=True)
@click.option("--dir", "dir_", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_DIR, show_default=True, help="Demo workspace directory.")
@click.option("--persons", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Number of people in the demo district.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@json_option
@quiet_option
@click.pass_context
def demo(ctx: click.Context, dir_: Path, persons: int, seed: int, as_json: bool,
         quiet: bool) -> None:
    """Create the demo world (if DIR has none), serve its REST API, run the hub on it and
    compare every count with the answer key. Exit code 0 when everything matches.

    \b
    hrss-hub demo init --dir D     write the workspace and its answer key
    hrss-hub demo serve --dir D    run the demo employment-services API
    hrss-hub demo append --dir D   add newer records (for an incremental run)
    """
    if ctx.invoked_subcommand is None:
        _run_demo(ctx, dir_, persons, seed, as_json, quiet)


def _key_document(dir_: Path, key: dict[str, Any], answer_key: Path) -> dict[str, Any]:
    """``demo init`` / ``demo append --json``: what the answer key expects, and where it is."""
    return {"dir": str(dir_), "answer_key": str(answer_key), "append": key.get("append"),
            "systems": key["systems"], "distinct": key["distinct"]}


def _summary(key: dict[str, object]) -> list[str]:
    lines = []
    systems = key["systems"]
    assert isinstance(systems, dict)
    for system, streams in systems.items():
        for stream, s in streams.items():
            lines.append(f"  {system + '.' + stream:<26} {s['entity']:<21} read {s['read']:>9,}  "
                         f"published {s['published']:>9,}  quarantined {s['quarantined_rows']:>7,}"
                         f"  filtered {s['filtered']:>5,}")
    distinct = key["distinct"]
    assert isinstance(distinct, dict)
    lines.append(f"  distinct persons {distinct['persons']:,}, employers {distinct['employers']:,}")
    return lines


@demo.command("init")
@click.option("--dir", "dir_", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_DIR, show_default=True, help="Demo workspace directory.")
@click.option("--persons", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Number of people in the demo district.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--force", is_flag=True, help="Overwrite the demo files of a non-empty directory.")
@json_option
def init(dir_: Path, persons: int, seed: int, force: bool, as_json: bool) -> None:
    """Write the demo workspace: hub.yaml, connectors/, sources/ and answer_key.json."""
    from hrss_hub.demo.generator import generate_world

    started = time.perf_counter()
    key = generate_world(dir_, persons=persons, seed=seed, force=force)
    took = time.perf_counter() - started
    if as_json:
        emit_json(_key_document(dir_, key, dir_ / "answer_key.json"))
        return
    click.echo(f"demo world of {persons:,} persons (seed {seed}) written to {dir_} "
               f"in {took:.1f} s")
    for line in _summary(key):
        click.echo(line)
    click.echo(f"answer key: {dir_ / 'answer_key.json'}")
    click.echo(f"next: hrss-hub demo serve --dir {dir_}   (the employment-services API)")


@demo.command("serve")
@click.option("--dir", "dir_", type=click.Path(file_okay=False, path_type=Path, exists=True),
              default=DEFAULT_DIR, show_default=True, help="Demo workspace directory.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0 = any free port).")
@json_option
def serve(dir_: Path, port: int, as_json: bool) -> None:
    """Run the demo employment-services REST API until interrupted (Ctrl-C)."""
    from hrss_hub.demo.generator import TOKEN_ENV, URL_ENV, demo_token
    from hrss_hub.demo.server import start_server

    token = demo_token(dir_)
    os.environ[TOKEN_ENV] = token
    server = start_server(dir_, port=port, token=token)
    os.environ[URL_ENV] = server.url
    if as_json:  # one line, printed at once: a script reads the URL and leaves it running
        click.echo(json.dumps({"url": server.url, "url_env": URL_ENV, "token_env": TOKEN_ENV,
                               "token_file": str(dir_ / ".env")}, ensure_ascii=False))
    else:
        _serve_banner(dir_, server.url, URL_ENV, TOKEN_ENV)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        if not as_json:
            click.echo("stopping")
    finally:
        server.stop()


def _serve_banner(dir_: Path, url: str, url_env: str, token_env: str) -> None:
    click.echo(f"employment-services API at {url} (Ctrl-C to stop)")
    click.echo("for the hub, in another shell:")
    click.echo(f"  export {url_env}={url}")
    click.echo(f"  export {token_env}=$(grep {token_env} {dir_ / '.env'} | cut -d= -f2)")


@demo.command("append")
@click.option("--dir", "dir_", type=click.Path(file_okay=False, path_type=Path, exists=True),
              default=DEFAULT_DIR, show_default=True, help="Demo workspace directory.")
@click.option("--persons", type=click.IntRange(min=1), default=200, show_default=True,
              help="Number of new people to add.")
@click.option("--seed", type=int, default=None, help="Random seed (default: the world's).")
@json_option
def append(dir_: Path, persons: int, seed: int | None, as_json: bool) -> None:
    """Append newer records to every source system and write answer_key_append_<n>.json."""
    from hrss_hub.demo.generator import append_world

    key = append_world(dir_, persons=persons, seed=seed)
    n = key["append"]
    if as_json:
        emit_json(_key_document(dir_, key, dir_ / f"answer_key_append_{n}.json"))
        return
    click.echo(f"append {n}: {persons:,} new persons added to {dir_}")
    for line in _summary(key):
        click.echo(line)
    click.echo(f"answer key: {dir_ / f'answer_key_append_{n}.json'}")

"""``hrss-hub expectations``: generate the GX suites from the standard and check them."""

from __future__ import annotations

from pathlib import Path

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option

_DIR = click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
                    default=None, help="Suites folder (default: the bundled expectations/).")
_STANDARD = click.option("--standard", "standard_dir",
                         type=click.Path(path_type=Path, file_okay=False), default=None,
                         help="A standards/ folder or version folder (default: bundled).")


def _resolve(directory: Path | None) -> Path:
    from hrss_hub.config import bundled_expectations_dir

    return directory or bundled_expectations_dir()


@click.group(cls=HubGroup)
def expectations() -> None:
    """Generate the Great Expectations suites from the standard, or check them."""


@expectations.command()
@_DIR
@_STANDARD
@click.option("--check", "check_only", is_flag=True,
              help="Do not write; exit 1 when the committed suites are stale (for CI).")
@json_option
def build(directory: Path | None, standard_dir: Path | None, check_only: bool,
          as_json: bool) -> None:
    """Write expectations/<entity>.json for every entity of the standard."""
    from hrss_hub.quality.suites import load_suites, stale_suites, write_suites
    from hrss_hub.standard.model import load_standard

    std = load_standard(standard_dir)
    target = _resolve(directory)
    if check_only:
        problems = stale_suites(target, std)
        if as_json:
            if not problems:
                load_suites(target, std)
            emit_json({"dir": str(target), "standard_version": std.version, "written": [],
                       "expectations": None, "stale": [str(p) for p in problems]})
            raise SystemExit(1 if problems else 0)
        for p in problems:
            click.echo(p, err=True)
        if problems:
            click.echo("run: hrss-hub expectations build", err=True)
            raise SystemExit(1)
        load_suites(target, std)
        click.echo(f"suites in {target} are up to date with the standard {std.version}")
        return
    changed = write_suites(target, std)
    suites = load_suites(target, std)  # the generated + hand-written ones must load
    n = sum(len(s.expectations) for group in suites.values() for s in group)
    if as_json:
        emit_json({"dir": str(target), "standard_version": std.version,
                   "written": [str(p) for p in changed], "expectations": n, "stale": []})
        return
    click.echo(f"{len(changed)} suite file(s) written; {n} expectations in {target}")


@expectations.command()
@_DIR
@_STANDARD
@json_option
def check(directory: Path | None, standard_dir: Path | None, as_json: bool) -> None:
    """Load every suite and report the first problem with its file and JSON path."""
    from hrss_hub.quality.suites import load_suites, stale_suites
    from hrss_hub.standard.model import load_standard

    std = load_standard(standard_dir)
    target = _resolve(directory)
    suites = load_suites(target, std)
    problems = stale_suites(target, std)
    n = sum(len(s.expectations) for group in suites.values() for s in group)
    if as_json:
        emit_json({"dir": str(target), "suites": sum(len(g) for g in suites.values()),
                   "expectations": n, "stale": [str(p) for p in problems]})
        raise SystemExit(1 if problems else 0)
    for p in problems:
        click.echo(p, err=True)
    click.echo(f"{sum(len(g) for g in suites.values())} suites, {n} expectations")
    if problems:
        raise SystemExit(1)

"""``hrss-hub standard``: check the unified data standard, render its data dictionary."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import click

from hrss_hub.errors import HubError

_STANDARD = click.option(
    "--standard", "standard_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="A standards/ folder (highest version) or a version folder "
         "(default: hub.yaml's standard, else the bundled one).")
_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                       help="hub.yaml of the workspace (default: ./hub.yaml if present).")


@click.group()
def standard() -> None:
    """Check the unified data standard or render its bilingual data dictionary."""


def _echo_problems(problems: Sequence[object]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


def _config_problem(exc: HubError) -> str:
    """Every problem of a workspace file, one per line: ``file:line: path: message (hint)``."""
    from hrss_hub.config.problems import problems_of

    problems = problems_of([exc])
    if not problems:  # not a configuration problem: the error as it is
        return str(exc)
    lines = []
    for p in problems:
        where = f"{p.file or 'hub.yaml'}:{p.line}" if p.line else (p.file or "hub.yaml")
        text = f"{where}: {p.path}: {p.message}" if p.path else f"{where}: {p.message}"
        lines.append(text + (f" ({p.hint})" if p.hint else ""))
    return "\n".join(lines)


@standard.command()
@_STANDARD
@_CONFIG
@click.option("--sample", "sample_rows", type=click.IntRange(min=0), default=0,
              help="Also read up to N rows of every stream and report source values that no "
                   "code mapping accepts (connects to the source systems).")
@click.pass_context
def check(ctx: click.Context, standard_dir: Path | None, config_path: Path | None,
          sample_rows: int) -> None:
    """Check every file of the standard, then (with a workspace) every connector mapping.

    Prints each problem as "file: path: message" and exits 1 if there is any.
    """
    from hrss_hub.config import HubConfig, load_config
    from hrss_hub.standard.check import check_standard
    from hrss_hub.standard.model import load_standard

    # a workspace is only used when one is given or present: the standard alone is
    # checkable anywhere (e.g. in CI of the standards repository)
    use_workspace = config_path is not None or (Path.cwd() / "hub.yaml").is_file()
    cfg: HubConfig | None = None
    if use_workspace:
        try:
            cfg = load_config(config_path)
        except HubError as exc:
            click.echo(_config_problem(exc), err=True)
            ctx.exit(1)
    if standard_dir is None and cfg is not None:
        standard_dir = cfg.standard_dir
    problems = check_standard(standard_dir)
    if problems:
        _echo_problems(problems)
        click.echo(f"standard: {len(problems)} problem(s)", err=True)
        ctx.exit(1)
    std = load_standard(standard_dir)
    click.echo(f"standard v{std.version}: OK ({len(std.entities)} entities, "
               f"{len(std.code_lists)} code lists)")
    if cfg is None or importlib.util.find_spec("hrss_hub.mapping.check") is None:
        return
    mapping_check = importlib.import_module("hrss_hub.mapping.check")
    mapping_problems = mapping_check.check_mappings(cfg, std, sample_rows=sample_rows)
    if mapping_problems:
        _echo_problems(mapping_problems)
        click.echo(f"mappings: {len(mapping_problems)} problem(s)", err=True)
        ctx.exit(1)
    click.echo(f"mappings: OK ({cfg.connectors_dir})")


@standard.command()
@_STANDARD
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write data-dictionary.md / data-dictionary.html into.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "both"]), default="both",
              show_default=True, help="Which rendering(s) to write.")
def docs(standard_dir: Path | None, out_dir: Path, fmt: str) -> None:
    """Write the bilingual (中文/English) data dictionary of the standard."""
    from hrss_hub.standard.docs import render_html, render_markdown
    from hrss_hub.standard.model import load_standard

    std = load_standard(standard_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    if fmt in ("md", "both"):
        outputs.append((out_dir / "data-dictionary.md", render_markdown(std)))
    if fmt in ("html", "both"):
        outputs.append((out_dir / "data-dictionary.html", render_html(std)))
    for path, text in outputs:
        path.write_text(text, encoding="utf-8")
        click.echo(str(path))

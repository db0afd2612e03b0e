"""``hrss-hub report [RUN_ID]``: write (and open) a run's quality report, or print it as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("run_id", required=False)
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="hub.yaml of the workspace (default: ./hub.yaml if present).")
@click.option("--json", "as_json", is_flag=True, help="Print the report data as JSON.")
@click.option("--open/--no-open", "open_it", default=False,
              help="Open the HTML report in a browser.")
def report(run_id: str | None, config_path: Path | None, as_json: bool, open_it: bool) -> None:
    """Write the bilingual quality report of RUN_ID (default: the latest run)."""
    from hrss_hub.config import load_config
    from hrss_hub.quality.report import build_report_data, write_report

    cfg = load_config(config_path)
    if as_json:
        click.echo(json.dumps(build_report_data(cfg, run_id), ensure_ascii=False, indent=2))
        return
    path = write_report(cfg, run_id)
    click.echo(str(path))
    if open_it:
        import webbrowser

        webbrowser.open(path.as_uri())

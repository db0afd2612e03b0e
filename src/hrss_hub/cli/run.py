"""``hrss-hub run``: the main job, extract → map → validate → publish for every system."""

from __future__ import annotations

import json
from typing import Any

import click

from hrss_hub.cli.output import json_option, quiet_option
from hrss_hub.config import load_config
from hrss_hub.run.summary import RunSummary


def print_summary(summary: RunSummary) -> None:
    """The summary table: per system/stream read, mapped, published, quarantined, filtered."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {summary.run_id}: {summary.status} "
                        f"({summary.duration_seconds:.1f}s)")
    numeric = ("read", "mapped", "published", "quarantined", "filtered", "seconds")
    for col in ("system", "stream", "entity", *numeric, "status"):
        table.add_column(col, justify="right" if col in numeric else "left")
    rules = Table(title="quarantined by rule", show_lines=False)
    for col in ("system", "stream", "rule", "rows"):
        rules.add_column(col, justify="right" if col == "rows" else "left")
    for system in summary.systems:
        if not system.streams:
            table.add_row(system.system, "-", "-", "", "", "", "", "", "", "failed")
        for s in system.streams:
            table.add_row(s.system, s.stream, s.entity or "-", f"{s.read:,}", f"{s.mapped:,}",
                          f"{s.published:,}", f"{s.quarantined:,}", f"{s.filtered:,}",
                          f"{s.duration_seconds:.1f}", s.status)
            for rule, n in s.quarantined_by_rule.items():
                rules.add_row(s.system, s.stream, rule, f"{n:,}")
    console = Console(width=max(140, Console().width))
    console.print(table)
    if rules.row_count:
        console.print(rules)
    for system in summary.systems:
        if system.status == "failed":
            console.print(f"[red]{system.system} failed:[/red] {system.error}", markup=True,
                          highlight=False)
        for s in system.streams:
            if s.schema_drift:
                console.print(f"[yellow]{s.system}/{s.stream} schema drift[/yellow] "
                              f"{s.schema_drift}", markup=True, highlight=False)
            if s.quality_warning:
                console.print(f"[yellow]{s.system}/{s.stream}:[/yellow] {s.quality_warning}",
                              markup=True, highlight=False)
    _print_publishing(console, summary.publishing or {})
    if summary.publish_error:
        console.print(f"[red]publishing failed:[/red] {summary.publish_error}", markup=True,
                      highlight=False)
    for note in summary.notes:
        console.print(f"[yellow]note:[/yellow] {note}", markup=True, highlight=False)
    if summary.report:
        console.print(f"quality report: {summary.report}", highlight=False)
    if summary.data_docs:
        console.print(f"Great Expectations Data Docs: {summary.data_docs}", highlight=False)


def _print_publishing(console: Any, publishing: dict[str, Any]) -> None:
    """The dataset versions this run published and what each recipient received."""
    from rich.table import Table

    versions = publishing.get("versions") or []
    if versions:
        console.print("published: " + ", ".join(
            f"{v['dataset']} v{v['version']} ({v['rows']:,} rows)" for v in versions),
            highlight=False)
    deliveries = [d for d in publishing.get("deliveries") or [] if d["status"] != "unchanged"]
    if deliveries:
        table = Table(title="deliveries (sharing agreements)")
        for col in ("recipient", "dataset", "status", "rows", "note"):
            table.add_column(col, justify="right" if col == "rows" else "left")
        for d in deliveries:
            empty = d.get("empty_columns") or []
            note = "; ".join(filter(None, [d.get("reason"), "empty columns (100% null): "
                                           + ", ".join(empty) if empty else ""]))
            table.add_row(d["recipient"], d["dataset"], d["status"], f"{d['rows']:,}", note)
        console.print(table)


def execute(config: str | None, systems: tuple[str, ...], as_json: bool, quiet: bool,
            trigger: str = "cli", wait_seconds: float = 0.0,
            parallel: int | None = None) -> int:
    """Run the pipeline and print the summary; returns the exit code. ``parallel``:
    streams at once (``None``: hub.yaml ``parallel``, else half the cores)."""
    from hrss_hub.cli.progress import TerminalProgress
    from hrss_hub.pipeline import run as run_pipeline

    cfg = load_config(config, overrides={"parallel": parallel})
    progress = TerminalProgress(enabled=not (quiet or as_json))
    try:
        summary = run_pipeline(cfg, systems or None, trigger=trigger, progress=progress,
                               wait_seconds=wait_seconds)
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    elif quiet:
        print_quiet(summary)
    else:
        print_summary(summary)
    return 1 if summary.failed else 0


def print_quiet(summary: RunSummary) -> None:
    """``--quiet``: every error on stderr, then one final line on stdout."""
    print_errors(summary)
    click.echo(final_line(summary))


def print_errors(summary: RunSummary) -> None:
    """Every failed system's and stream's error, and a publishing error, on stderr."""
    for system in summary.systems:
        if system.status == "failed" and system.error:
            click.echo(f"error: {system.system}: {system.error}", err=True)
        for s in system.streams:
            if s.status == "failed" and s.error:
                click.echo(f"error: {s.system}/{s.stream}: {s.error}", err=True)
    if summary.publish_error:
        click.echo(f"error: publishing: {summary.publish_error}", err=True)


def final_line(summary: RunSummary) -> str:
    """``run <id>: <status>, <n> stream(s): read …, published …, quarantined … (<s> s)``."""
    streams = [s for system in summary.systems for s in system.streams]
    return (f"run {summary.run_id}: {summary.status}, {len(streams)} stream(s): "
            f"read {sum(s.read for s in streams):,}, "
            f"published {sum(s.published for s in streams):,}, "
            f"quarantined {sum(s.quarantined for s in streams):,} "
            f"({summary.duration_seconds:.1f} s)")


@click.command("run")
@click.option("--config", "-c", type=click.Path(dir_okay=True), default=None,
              help="Workspace hub.yaml (default: ./hub.yaml).")
@click.option("--system", "-s", "systems", multiple=True,
              help="Run only this system (repeatable). Default: every system in connectors/.")
@json_option
@quiet_option
@click.option("--wait", "wait", is_flag=True,
              help="When another run holds the workspace, wait for it instead of failing.")
@click.option("--wait-timeout", type=click.FloatRange(min=0), default=3600.0,
              show_default=True, help="Seconds --wait waits at most.")
@click.option("--parallel", "-j", type=click.IntRange(min=1), default=None,
              help="Streams run at once (1: one after the other). Default: hub.yaml "
                   "parallel, else half the cores (at most 4). The results are the same.")
@click.pass_context
def run(ctx: click.Context, config: str | None, systems: tuple[str, ...], as_json: bool,
        quiet: bool, wait: bool, wait_timeout: float, parallel: int | None) -> None:
    """Run extract → map → validate → publish for every configured system.

    One run per workspace at a time: while another run holds it, this one fails at once
    (exit code 2, naming the other run) or, with --wait, waits for it. A run that was
    killed is detected by the next one (dead process, or expired lease), closed as
    failed (interrupted), and its leftovers are removed.

    Streams of one system and independent systems run in parallel (--parallel); streams
    of referenced entities (persons, employers) still finish before the streams that
    reference them, and the results are those of a serial run.

    Exit code 1 when a system failed (the other systems still run), 2 on bad configuration.
    """
    ctx.exit(execute(config, systems, as_json, quiet,
                     wait_seconds=wait_timeout if wait else 0.0, parallel=parallel))

"""The bare ``hrss-hub demo``: create (or reuse) the demo world, serve its REST API, run the
hub on it, and compare every count with the answer key.

Kept outside :mod:`hrss_hub.demo` (the world generator) because it drives the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hrss_hub.pipeline import RunSummary

#: the counts of a stream compared with the answer key
COMPARED = ("read", "published", "quarantined_rows", "quarantined", "filtered")


def compare_with_key(summary: RunSummary, key: dict[str, Any]) -> list[str]:
    """Differences between a run's summary and an answer key (empty when all match)."""
    problems: list[str] = []
    actual: dict[tuple[str, str], Any] = {
        (s.system, st.stream): st for s in summary.systems for st in s.streams}
    for system, streams in key["systems"].items():
        for stream, expected in streams.items():
            got = actual.get((system, stream))
            if got is None:
                problems.append(f"{system}.{stream}: not run")
                continue
            values = {"read": got.read, "published": got.published,
                      "quarantined_rows": got.quarantined,
                      "quarantined": got.quarantined_by_rule, "filtered": got.filtered}
            for name in COMPARED:
                want = expected.get(name, {} if name == "quarantined" else 0)
                if values[name] != want:
                    problems.append(
                        f"{system}.{stream} {name}: expected {want}, got {values[name]}")
    return problems


def compare_findings(cfg: Any, ledger: Any, key: dict[str, Any]) -> list[str]:
    """Differences between the ledger's current findings and the answer key's planted
    cases, per check (persons compared by the digest the ledger keeps)."""
    from hrss_hub.supervision.lifecycle import FindingStore
    from hrss_hub.supervision.spec import load_checks

    expected = key.get("supervision")
    if expected is None:
        return []
    current = FindingStore(ledger).subjects()
    problems = []
    for check in sorted({c.id for c in load_checks(cfg.supervision_dir)} | set(expected)):
        want, got = set(expected.get(check, [])), current.get(check, set())
        if want - got:
            problems.append(f"supervision {check}: {len(want - got)} planted case(s) not found")
        if got - want:
            problems.append(f"supervision {check}: {len(got - want)} finding(s) not planted")
    return problems


def pending_key(workspace: Path, runs_before: int) -> tuple[str, dict[str, Any]] | None:
    """The answer key the next run should meet: the world's for a first run, else the
    newest append key not yet run (``None`` when nothing is pending)."""
    appends = sorted(workspace.glob("answer_key_append_*.json"),
                     key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    state_file = workspace / ".hrss-hub" / "demo-keys-run.json"
    done: list[str] = json.loads(state_file.read_text()) if state_file.exists() else []
    for path in [workspace / "answer_key.json", *appends]:
        if path.name not in done and path.exists():
            if path.name == "answer_key.json" and runs_before:
                continue
            return path.name, json.loads(path.read_text(encoding="utf-8"))
    return None


def mark_key_run(workspace: Path, name: str) -> None:
    """Remember that the run for answer key ``name`` has happened."""
    state_file = workspace / ".hrss-hub" / "demo-keys-run.json"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    done: list[str] = json.loads(state_file.read_text()) if state_file.exists() else []
    state_file.write_text(json.dumps([*done, name]))


def run_demo(workspace: Path, persons: int, seed: int, *, as_json: bool = False,
             quiet: bool = False) -> int:
    """Init the world if needed, serve the REST API, run, compare; returns the exit code."""
    from hrss_hub.cli.progress import TerminalProgress
    from hrss_hub.cli.run import final_line, print_errors, print_summary
    from hrss_hub.config import load_config
    from hrss_hub.demo.generator import generate_world
    from hrss_hub.demo.server import serving
    from hrss_hub.ledger import Ledger
    from hrss_hub.pipeline import run

    workspace = Path(workspace)
    if not (workspace / "hub.yaml").exists():
        if not quiet and not as_json:
            click.echo(f"creating the demo world of {persons:,} persons in {workspace} …", err=True)
        generate_world(workspace, persons=persons, seed=seed)
    elif not quiet and not as_json:
        click.echo(f"using the existing demo world in {workspace}", err=True)
    cfg = load_config(workspace / "hub.yaml")
    ledger = Ledger.open(cfg.ledger_url)
    try:
        runs_before = len(ledger.recent_runs(1))
    finally:
        ledger.close()
    expected = pending_key(workspace, runs_before)
    progress = TerminalProgress(enabled=not (quiet or as_json))
    try:
        with serving(workspace):
            summary = run(cfg, trigger="demo", progress=progress)
    finally:
        progress.close()
    problems = compare_with_key(summary, expected[1]) if expected else []
    if expected and not summary.failed:
        ledger = Ledger.open(cfg.ledger_url)
        try:
            problems += compare_findings(cfg, ledger, expected[1])
        finally:
            ledger.close()
    if expected and not summary.failed:
        mark_key_run(workspace, expected[0])
    if as_json:
        out = summary.to_dict()
        out["answer_key"] = {"file": expected[0] if expected else None,
                             "matches": not problems, "differences": problems}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    elif quiet:  # errors, then the verdict as the final line
        print_errors(summary)
        for p in problems:
            click.echo(f"error: {p}", err=True)
        click.echo(final_line(summary) + ("" if expected is None else
                   f"; answer key {expected[0]}: "
                   + (f"{len(problems)} difference(s)" if problems else "all counts match")))
    else:
        print_summary(summary)
        if expected is None:
            click.echo("no new source data since the last run (try: hrss-hub demo append)")
        elif problems:
            click.echo(f"answer key {expected[0]}: {len(problems)} difference(s)")
            for p in problems:
                click.echo(f"  {p}")
        else:
            n = sum(len(v) for v in expected[1]["systems"].values())
            cases = sum(len(v) for v in expected[1].get("supervision", {}).values())
            click.echo(f"answer key {expected[0]}: all counts of {n} streams match, "
                       f"{cases} planted supervision case(s) found and nothing else ✓")
        click.echo(f"published data: {cfg.exchange_root}   quarantine: {cfg.quarantine_dir}")
    return 1 if summary.failed or problems else 0

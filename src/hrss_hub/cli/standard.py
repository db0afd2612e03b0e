"""``hrss-hub standard``: check the unified data standard, render its data dictionary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from hrss_hub.cli import HubGroup
from hrss_hub.cli.output import emit_json, json_option
from hrss_hub.errors import HubError

_STANDARD = click.option(
    "--standard", "standard_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="A standards/ folder (highest version) or a version folder "
         "(default: hub.yaml's standard, else the bundled one).")
_CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                       help="hub.yaml of the workspace (default: ./hub.yaml if present).")


@click.group(cls=HubGroup)
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
@json_option
@click.pass_context
def check(ctx: click.Context, standard_dir: Path | None, config_path: Path | None,
          sample_rows: int, as_json: bool) -> None:
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
    # the --json document, filled as the checks go (shape: docs/cli.md)
    doc: dict[str, Any] = {"workspace": None, "standard": None, "problems": [],
                           "mappings": None}

    def done(code: int) -> NoReturn:
        if as_json:
            emit_json(doc)
        ctx.exit(code)

    if use_workspace:
        try:
            cfg = load_config(config_path)
        except HubError as exc:
            doc["problems"] = _config_problem(exc).splitlines()
            if not as_json:
                click.echo(_config_problem(exc), err=True)
            done(1)
        assert cfg is not None
        doc["workspace"] = str(cfg.source_file)
    if standard_dir is None and cfg is not None:
        standard_dir = cfg.standard_dir
    problems = check_standard(standard_dir)
    if problems:
        doc["problems"] = [str(p) for p in problems]
        if not as_json:
            _echo_problems(problems)
            click.echo(f"standard: {len(problems)} problem(s)", err=True)
        done(1)
    std = load_standard(standard_dir)
    doc["standard"] = {"version": std.version, "entities": len(std.entities),
                       "code_lists": len(std.code_lists), "rules": _rule_count()}
    if std.profile is not None:
        doc["standard"]["profile"] = std.profile.to_dict()
    if not as_json:
        click.echo(f"standard v{std.version}: OK ({len(std.entities)} entities, "
                   f"{len(std.code_lists)} code lists)")
        if std.profile is not None:
            from hrss_hub.standard.profile import differences

            info = std.profile
            changes = differences(info)
            click.echo(f"profile {info.id} {info.version} ({info.label_zh}) extends "
                       f"{info.base_name} {info.base_version} ({info.base_root}): "
                       f"{len(changes)} addition(s)")
            for line in changes:
                click.echo(f"  {line}")
        click.echo(_rules_line())
    if cfg is None:
        done(0)
    from hrss_hub.mapping.check import check_mappings

    mapping_problems = check_mappings(cfg, std, sample_rows=sample_rows)
    doc["mappings"] = {"connectors": str(cfg.connectors_dir),
                       "problems": [str(p) for p in mapping_problems]}
    if mapping_problems:
        if not as_json:
            _echo_problems(mapping_problems)
            click.echo(f"mappings: {len(mapping_problems)} problem(s)", err=True)
        done(1)
    if not as_json:
        click.echo(f"mappings: OK ({cfg.connectors_dir})")
    done(0)


def _rules_line() -> str:
    from hrss_hub.quality.rules import registry

    reg = registry()
    plugins = [r for r in reg if r.origin != "builtin"]
    text = f"rules: {len(reg)} registered"
    if plugins:
        text += f" ({len(plugins)} from plugins: " + ", ".join(
            f"{r.id} [{r.origin}]" for r in plugins) + ")"
    return text


@standard.command()
@_STANDARD
@click.option("--entity", default=None,
              help="Show the rules this entity's fields, rules: and key declare instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def rules(standard_dir: Path | None, entity: str | None, as_json: bool) -> None:
    """List every quality rule: id, labels, default severity, how a standard declares it.

    Built-in rules and those of installed plugins (entry-point group ``hrss_hub.rules``).
    With ``--entity``: each rule the standard declares for that entity, on which field, at
    which severity and where (the entity's generated suite).
    """
    import json

    from hrss_hub.quality.rules import Rule, registry

    if entity is not None:
        _entity_rules(standard_dir, entity, as_json)
        return
    out: list[dict[str, object]] = []
    for rule in registry():
        entry: dict[str, object] = {
            "id": rule.id, "label_zh": rule.label_zh, "label_en": rule.label_en,
            "description": rule.description, "default_severity": rule.default_severity,
            "stage": rule.stage, "declared_by": rule.declared_by, "declarable": False,
            "parameters": [], "expectations": [], "origin": rule.origin}
        if isinstance(rule, Rule):
            entry.update(declarable=rule.declarable, parameters=rule.describe_params(),
                         expectations=list(rule.expectation_types))
        out.append(entry)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    width = max(len(rule.id) for rule in registry())
    for rule in registry():
        click.echo(f"{rule.id:<{width}}  {rule.default_severity:<8}  {rule.stage:<7}  "
                   f"{rule.labels}  — {rule.declared_by}"
                   + ("" if rule.origin == "builtin" else f"  [{rule.origin}]"))
    click.echo(_rules_line())


def _entity_rules(standard_dir: Path | None, name: str, as_json: bool) -> None:
    import json

    from hrss_hub.quality.suites import build_suite
    from hrss_hub.standard.model import load_standard

    std = load_standard(standard_dir)
    doc = build_suite(std.entity(name), std)
    rows = [{"rule": e["meta"]["hrss_hub"]["rule"], "field": e["meta"]["hrss_hub"]["field"],
             "severity": e["meta"]["hrss_hub"]["severity"],
             "declared_at": e["meta"]["hrss_hub"]["source"], "expectation": e["type"]}
            for e in doc["expectations"]]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    width = max(len(str(r["rule"])) for r in rows)
    fwidth = max(len(str(r["field"])) for r in rows)
    for r in rows:
        click.echo(f"{r['rule']:<{width}}  {r['field']:<{fwidth}}  {r['severity']:<8}  "
                   f"{r['declared_at']}")
    click.echo(f"{name}: {len(rows)} rule declaration(s) in standard v{std.version}")


@standard.command()
@_STANDARD
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write data-dictionary.md / data-dictionary.html into.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "both"]), default="both",
              show_default=True, help="Which rendering(s) to write.")
@json_option
def docs(standard_dir: Path | None, out_dir: Path, fmt: str, as_json: bool) -> None:
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
        if not as_json:
            click.echo(str(path))
    if as_json:
        emit_json({"standard_version": std.version, "written": [str(p) for p, _ in outputs]})


def _rule_count() -> int:
    from hrss_hub.quality.rules import registry

    return len(registry())

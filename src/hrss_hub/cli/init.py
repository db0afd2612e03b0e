"""``hrss-hub init``: scaffold a workspace that ``hrss-hub config check`` accepts.

It writes ``hub.yaml`` with every key and its default (from the config models:
:mod:`hrss_hub.config.scaffold`), the folders a workspace has, and one example connector per
kind — ``sql`` (a SQLite file it creates), ``files`` (a CSV drop folder) and ``rest`` (an
API whose URL comes from an environment variable) — each mapping a small ``person`` stream,
so that ``hrss-hub run --system example_sql --system example_files`` works at once.
Existing files are never overwritten.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from hrss_hub.cli.output import emit_json, json_option

#: folders of a workspace (the defaults of hub.yaml), each with a line saying what it holds
FOLDERS = {
    "connectors": "one YAML per source system (docs/connectors.md)",
    "expectations": "hand-written Great Expectations suites; empty: the bundled suites",
    "sharing": "one YAML per sharing agreement",
    "sources": "the example connectors' source data",
}

#: the example people (valid citizen IDs of the GB 11643 test range, no real person)
PEOPLE = [
    ("E001", "11010519491231002X", "王芳", "女", "1949-12-31"),
    ("E002", "110105194912310046", "欧阳娜娜", "女", "1949-12-31"),
    ("E003", "34052419800101001X", "李强", "男", "1980-01-01"),
]

_MAPPING = """\
    mapping:
      entity: person
      source_key: [{key}]
      fields:
        citizen_id: {{from: {idno}, normalize: citizen_id}}
        id_type: {{const: "01"}}
        name: {{from: {name}, normalize: name}}
        gender: {{from: {sex}, map: {{男: "1", 女: "2"}}, fallback: quarantine}}
        birth_date: {{from: {born}, normalize: date}}
"""

EXAMPLES = {
    "example_sql.yaml": """\
# An example source system of kind sql: any SQLAlchemy URL (PostgreSQL, MySQL/MariaDB,
# Oracle, SQL Server, SQLite). A password belongs in an environment variable: url_env.
system: example_sql
title: 示例数据库 / Example database
kind: sql
connection:
  url: sqlite:///sources/example.db
streams:
  - name: staff
    table: staff
    primary_key: [id]
    cursor: updated_at          # incremental: only rows changed since the last run
""" + _MAPPING.format(key="id", idno="idno", name="name", sex="sex", born="born"),
    "example_files.yaml": """\
# An example source system of kind files: a folder where CSV or Excel files are dropped.
system: example_files
title: 示例文件 / Example file drops
kind: files
connection:
  path: sources/example_files
streams:
  - name: roster
    pattern: "*.csv"
    encoding: auto              # GBK, GB18030 and UTF-8 are detected
    primary_key: [工号]
""" + _MAPPING.format(key="工号", idno="身份证号", name="姓名", sex="性别", born="出生日期"),
    "example_rest.yaml": """\
# An example source system of kind rest: a JSON API. Set EXAMPLE_API_URL (and the token in
# EXAMPLE_API_TOKEN) before running it, or delete this file.
system: example_rest
title: 示例接口 / Example API
kind: rest
connection:
  base_url_env: EXAMPLE_API_URL
  auth: {type: bearer, token_env: EXAMPLE_API_TOKEN}
streams:
  - name: persons
    path: /persons
    records_path: data.items
    pagination: {type: page, page_param: page, size_param: size, size: 1000}
    incremental: {param: updatedSince, cursor_field: updatedAt}
    primary_key: [id]
    schema: {id: string, idNo: string, fullName: string, gender: string, birthDate: string,
             updatedAt: string}
""" + _MAPPING.format(key="id", idno="idNo", name="fullName", sex="gender", born="birthDate"),
}


def scaffold(root: Path, level: str, division: str, hub_id: str) -> list[Path]:
    """Write the workspace under ``root``; returns the files and folders created (existing
    ones are kept as they are)."""
    from hrss_hub.config.scaffold import hub_yaml

    created: list[Path] = []
    root.mkdir(parents=True, exist_ok=True)

    def write(path: Path, text: str) -> None:
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            created.append(path)

    write(root / "hub.yaml", hub_yaml(level, division, hub_id))
    for folder, what in FOLDERS.items():
        if not (root / folder).exists():
            (root / folder).mkdir()
            created.append(root / folder)
        write(root / folder / "README.md", f"# {folder}/\n\n{what}\n")
    for name, text in EXAMPLES.items():
        write(root / "connectors" / name, text)
    drops = root / "sources" / "example_files"
    drops.mkdir(exist_ok=True)
    write(drops / "roster.csv", "工号,身份证号,姓名,性别,出生日期\n" + "".join(
        f"{key},{idno},{name},{sex},{born}\n" for key, idno, name, sex, born in PEOPLE))
    database = root / "sources" / "example.db"
    if not database.exists():
        with sqlite3.connect(database) as db:
            db.execute("CREATE TABLE staff (id TEXT PRIMARY KEY, idno TEXT, name TEXT, "
                       "sex TEXT, born TEXT, updated_at TEXT)")
            db.executemany("INSERT INTO staff VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00')",
                           PEOPLE)
        db.close()
        created.append(database)
    write(root / ".gitignore", ".hrss-hub/\nexchange/\noutbox/\nquarantine/\nreports/\n")
    return created


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--level", required=True,
              type=click.Choice(["county", "district", "city", "province"]),
              help="This hub's tier: county (县/县级市/区), city or province.")
@click.option("--division", required=True,
              help="Six-digit GB/T 2260 code of this hub's division, e.g. 510107.")
@click.option("--hub-id", default="hrss-hub", show_default=True,
              help="This hub's name in manifests and the audit log.")
@json_option
def init(directory: Path, level: str, division: str, hub_id: str, as_json: bool) -> None:
    """Scaffold a workspace: hub.yaml with every default, folders, example connectors."""
    from hrss_hub.config import load_config

    created = scaffold(directory, level, division, hub_id)
    cfg = load_config(directory / "hub.yaml")  # what was written must load: exit 2 if not
    if as_json:
        emit_json({"workspace": str(directory.resolve()), "hub_yaml": str(cfg.source_file),
                   "created": [str(p) for p in created]})
        return
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"workspace {directory.resolve()} ready: hrss-hub config check --config "
               f"{directory / 'hub.yaml'}")

"""Connector files → SystemConfig: valid files load; every mistake names file, line, YAML path.

The tables follow dlt's ``VALID_CONFIGS`` / ``INVALID_CONFIGS``: each invalid case lists every
problem the file must report, as (message fragment, line, YAML path), so a test fails when a
problem is missing, misplaced, or when another one appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hrss_hub.config import ConfigProblems, load_config
from hrss_hub.connectors import kinds, load_system, load_systems
from hrss_hub.errors import ConfigError

VALID_SQL = """\
system: si_core
title: 社保核心系统
kind: sql
connection: {url: sqlite:///sources/si_core.db}
streams:
  - name: AC01
    table: AC01
    primary_key: [AAC001]
    cursor: AAE036
    mapping: {entity: person, fields: {citizen_id: AAC002}}
"""


@dataclass(frozen=True)
class Case:
    """One connector file and what loading it must give."""

    id: str
    text: str
    problems: tuple[tuple[str, int | None, str], ...] = ()  # (message fragment, line, path)
    hints: tuple[str, ...] = ()  # fragments of the hints (did-you-mean, valid values)


VALID_CONFIGS: list[Case] = [
    Case("sql table", VALID_SQL),
    Case("sql query, split, declared schema",
         "kind: sql\nconnection: {url_env: SI_URL, fast_path: off}\nstreams:\n"
         "  - {name: q, query: 'SELECT 1 AS x', split: {column: x, parts: 2},\n"
         "     schema: {x: int64, amount: 'decimal128(12, 2)'}}\n"),
    Case("fast path spelt sqlalchemy",
         "kind: sql\nconnection: {url_env: U, fast_path: sqlalchemy}\n"
         "streams: [{name: a, table: a}]\n"),
    Case("retries written as text are a number", "kind: sql\nconnection: {conn_id: si}\n"
         "retries: \"3\"\nretry_delay_seconds: '30'\nstreams: [{name: a, table: a}]\n"),
    Case("files csv and xlsx", "kind: files\nconnection: {path: drop}\nstreams:\n"
         "  - {name: a, pattern: '*.csv', encoding: gb18030, delimiter: ';'}\n"
         "  - {name: b, pattern: '*.xlsx', sheet: 人员, header_row: 2}\n"),
    Case("rest with every pagination style", "kind: rest\n"
         "connection: {base_url: 'http://x', auth: {type: bearer, token_env: T}}\nstreams:\n"
         "  - {name: a, path: /a, pagination: {type: page, size: 5, start: 0},"
         " schema: {id: string}, primary_key: id}\n"
         "  - {name: b, path: /b, pagination: {type: offset}, schema: {id: string}}\n"
         "  - {name: c, path: /c, pagination: {type: cursor, cursor_path: next},"
         " schema: {id: string}}\n"
         "  - {name: d, path: /d, pagination: {type: link}, schema: {id: string,"
         " t: {type: timestamp, required: true}}, incremental: {param: since,"
         " cursor_field: t}}\n"),
    Case("rest secrets from an Airflow connection", "kind: rest\n"
         "connection: {conn_id: emp, auth: {type: basic}}\n"
         "streams: [{name: a, path: /a, schema: {id: string}}]\n"),
]

INVALID_CONFIGS: list[Case] = [
    Case("unknown kind", "kind: sqll\nstreams: [{name: a, table: a}]\n",
         (("unknown connector kind 'sqll'", 1, "kind"),), ("did you mean 'sql'", "files")),
    Case("kind missing", "connection: {}\nstreams: [{name: a}]\n",
         (("kind is required", 1, "kind"),)),
    Case("unknown top-level key", "kind: sql\nconection: {}\nstreams: [{name: a, table: a}]\n",
         (("unknown key 'conection'", 2, "conection"),
          ("connection needs one of url, url_env or conn_id", 1, "connection")),
         ("did you mean 'connection'",)),
    Case("unknown connection key",
         "kind: sql\nconnection: {url: 'sqlite:///x.db', fastpath: adbc}\n"
         "streams: [{name: a, table: a}]\n",
         (("unknown key 'fastpath'", 2, "connection.fastpath"),), ("did you mean 'fast_path'",)),
    Case("unknown stream key", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams:\n"
         "  - {name: a, table: a}\n  - {name: b, table: b, cursr: x}\n",
         (("unknown key 'cursr'", 5, "streams[1].cursr"),), ("did you mean 'cursor'",)),
    Case("unknown drift policy", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
         "streams: [{name: a, table: a, drift: evolv}]\n",
         (("unknown drift policy 'evolv'", 3, "streams[0].drift"),),
         ("did you mean 'evolve'", "fail, ignore")),
    Case("password in the url", "kind: sql\nconnection: {url: 'postgresql://u:s3cretpw@db/x'}\n"
         "streams: [{name: a, table: a}]\n",
         (("contains a password", 2, "connection.url"),), ("url_env", "conn_id")),
    Case("table and query", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
         "streams: [{name: a}]\n", (("exactly one of table or query", 3, "streams[0]"),)),
    Case("unknown fast path", "kind: sql\nconnection: {url: 'sqlite:///x.db', fast_path: turbo}\n"
         "streams: [{name: a, table: a}]\n",
         (("unknown fast_path 'turbo'", 2, "connection.fast_path"),), ("adbc",)),
    Case("negative batch size", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nbatch_size: -1\n"
         "streams: [{name: a, table: a}]\n",
         (("batch_size must be a positive integer, got -1", 3, "batch_size"),)),
    Case("retries as words", "kind: sql\nconnection: {conn_id: si}\nretries: three\n"
         "streams: [{name: a, table: a}]\n",
         (("retries must be an integer, got 'three'", 3, "retries"),)),
    Case("no streams", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams: []\n",
         (("streams must be a non-empty list", 3, "streams"),)),
    Case("duplicate stream", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams:\n"
         "  - {name: a, table: a}\n  - {name: a, table: b}\n",
         (("duplicate stream name 'a'", 5, "streams[1].name"),)),
    Case("cursor without a key", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams:\n"
         "  - {name: a, table: a, cursor: AAE036}\n",
         (("an incremental stream (cursor) needs a primary_key", 4, "streams[0].cursor"),),
         ("add primary_key",)),
    Case("split shape", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams:\n"
         "  - {name: a, table: a, split: {column: id, parts: 0}}\n",
         (("parts must be a positive integer, got 0", 4, "streams[0].split.parts"),)),
    Case("unknown format",
         "kind: files\nconnection: {path: drop}\nstreams: [{name: a, format: xls}]\n",
         (("unknown format 'xls'", 3, "streams[0].format"),), ("xlsx",)),
    Case("old excel pattern", "kind: files\nconnection: {path: drop}\n"
         "streams: [{name: a, pattern: '*.xls'}]\n",
         (("old Excel files (.xls) are not supported", 3, "streams[0]"),)),
    Case("unknown encoding", "kind: files\nconnection: {path: drop}\n"
         "streams: [{name: a, encoding: klingon}]\n",
         (("unknown encoding 'klingon'", 3, "streams[0].encoding"),), ("auto",)),
    Case("files without a folder", "kind: files\nstreams: [{name: a}]\n",
         (("connection.path (the drop folder) is required", 1, "connection.path"),)),
    Case("delimiter of two characters", "kind: files\nconnection: {path: drop}\n"
         "streams: [{name: a, delimiter: ';;'}]\n",
         (("delimiter must be one character", 3, "streams[0].delimiter"),)),
    Case("header row zero", "kind: files\nconnection: {path: drop}\n"
         "streams: [{name: a, header_row: 0}]\n",
         (("header_row must be a positive integer, got 0", 3, "streams[0].header_row"),)),
    Case("declared sql type", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
         "streams: [{name: a, query: 'select 1', schema: {x: integer}}]\n",
         (("unknown type 'integer'", 3, "streams[0].schema.x"),)),
    Case("declared files type", "kind: files\nconnection: {path: drop}\nstreams:\n"
         "  - name: a\n    schema:\n      x: integr\n      y: int64\n      z: decimal128(2,5)\n",
         (("unknown type 'integr'", 6, "streams[0].schema.x"),
          ("unknown type 'decimal128(2,5)'", 8, "streams[0].schema.z"))),
    Case("rest pagination type", "kind: rest\nconnection: {base_url: 'http://x'}\nstreams:\n"
         "  - name: a\n    path: /a\n    schema: {id: string}\n    pagination: {type: pag}\n",
         (("unknown pagination type 'pag'", 7, "streams[0].pagination"),),
         ("did you mean 'page'", "valid: cursor, link, ")),
    Case("rest pagination options", "kind: rest\nconnection: {base_url: 'http://x'}\nstreams:\n"
         "  - name: a\n    path: /a\n    schema: {id: string}\n    pagination:\n"
         "      type: page\n      size: none\n      offset_param: o\n",
         (("size must be an integer, got 'none'", 9, "streams[0].pagination.size"),
          ("unknown key 'offset_param'", 10, "streams[0].pagination.offset_param")),
         # the keys of *this* style
         ("valid: page_param, records_total_path, size, size_param, start",)),
    Case("cursor pagination without its path", "kind: rest\nconnection: {base_url: 'http://x'}\n"
         "streams: [{name: a, path: /a, schema: {id: string}, pagination: {type: cursor}}]\n",
         (("cursor_path is required", 3,
           "streams[0].pagination.cursor_path"),), ("e.g. {type: cursor, cursor_path:",)),
    Case("rest auth", "kind: rest\nconnection:\n  base_url: 'http://x'\n"
         "  auth: {type: bearer}\nstreams: [{name: a, path: /a, schema: {id: string}}]\n",
         (("auth type bearer needs token_env", 4, "connection.auth.token_env"),), ("conn_id",)),
    Case("rest auth keys of another type", "kind: rest\nconnection:\n  base_url: 'http://x'\n"
         "  auth: {type: bearer, token_env: T, key_env: K}\n"
         "streams: [{name: a, path: /a, schema: {id: string}}]\n",
         (("auth type bearer does not use key_env", 4, "connection.auth"),)),
    Case("rest api key needs header or param", "kind: rest\nconnection:\n  base_url: 'http://x'\n"
         "  auth: {type: api_key, key_env: K}\n"
         "streams: [{name: a, path: /a, schema: {id: string}}]\n",
         (("api_key needs exactly one of header or param", 4, "connection.auth"),)),
    Case("rest without endpoint and schema", "kind: rest\nconnection: {base_url: 'http://x'}\n"
         "streams: [{name: a}]\n",
         (("path is required", 3, "streams[0].path"),
          ("schema is required", 3, "streams[0].schema"))),
    Case("rest keys not declared", "kind: rest\nconnection: {base_url: 'http://x'}\nstreams:\n"
         "  - name: a\n    path: /a\n    primary_key: [pid]\n    schema: {id: string}\n"
         "    incremental: {param: since, cursor_field: updated}\n",
         (("primary key 'pid' is not declared in schema", 6, "streams[0].primary_key"),)),
    Case("rest cursor not declared", "kind: rest\nconnection: {base_url: 'http://x'}\nstreams:\n"
         "  - name: a\n    path: /a\n    schema: {id: string}\n"
         "    incremental: {param: since, cursor_field: updated}\n",
         (("cursor field 'updated' is not declared", 7,
           "streams[0].incremental.cursor_field"),)),
    Case("rest field type", "kind: rest\nconnection: {base_url: 'http://x'}\nstreams:\n"
         "  - {name: a, path: /a, schema: {id: strng}}\n",
         (("unknown field type 'strng'", 4, "streams[0].schema.id"),),
         ("did you mean 'string'",)),
    Case("rest number options", "kind: rest\nconnection:\n  base_url: 'http://x'\n"
         "  timeout_seconds: 0\n  max_retries: -1\n"
         "streams: [{name: a, path: /a, schema: {id: string}}]\n",
         (("timeout_seconds must be a positive number, got 0", 4, "connection.timeout_seconds"),
          ("max_retries must be a non-negative integer, got -1", 5, "connection.max_retries"))),
    Case("threshold out of range", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams:\n"
         "  - {name: a, table: a, threshold: {critical_fail_pct: 150, warn: 1}}\n",
         (("critical_fail_pct must be at most 100", 4, "streams[0].threshold.critical_fail_pct"),
          ("unknown key 'warn'", 4, "streams[0].threshold.warn"))),
    Case("mapping shape", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams:\n"
         "  - name: a\n    table: a\n    mapping:\n      entity: person\n      fields:\n"
         "        gender: {from: AAC004, normalize: gendr}\n        name: {from: A, const: B}\n",
         (("unknown normalizer 'gendr'", 9, "streams[0].mapping.fields.gender.normalize"),
          ("use only one of from, const", 10, "streams[0].mapping.fields.name"))),
    Case("duplicate key", "kind: sql\nconnection: {url: 'sqlite:///x.db'}\nretries: 1\n"
         "streams: [{name: a, table: a}]\nretries: 5\n",
         (("key 'retries' appears twice (first on line 3)", 5, "retries"),)),
    Case("not a mapping", "- just\n- a list\n", (("must be a mapping", 1, ""),)),
    Case("invalid yaml", "kind: [unclosed\n", (("not valid YAML", 2, ""),)),
]


def write(tmp_path: Path, text: str, name: str = "si_core.yaml") -> Path:
    folder = tmp_path / "connectors"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", VALID_CONFIGS, ids=[c.id for c in VALID_CONFIGS])
def test_valid_configs_load(tmp_path: Path, case: Case) -> None:
    from hrss_hub.connectors import create_connector

    cfg = load_system(write(tmp_path, case.text), tmp_path)
    assert cfg.streams and cfg.system
    create_connector(cfg)  # the kind takes what its models accepted (building does no I/O)


@pytest.mark.parametrize("case", INVALID_CONFIGS, ids=[c.id for c in INVALID_CONFIGS])
def test_invalid_configs_report_every_problem(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case.text)
    with pytest.raises(ConfigProblems) as info:
        load_system(path, tmp_path)
    found = [(p.message, p.line, p.path) for p in info.value.problems]
    assert len(found) == len(case.problems), found
    for (fragment, line, where), (message, got_line, got_path) in zip(
            sorted(case.problems, key=lambda c: (c[1] or 0, c[2])),
            sorted(found, key=lambda f: (f[1] or 0, f[2])), strict=True):
        assert fragment in message, found
        assert (got_line, got_path) == (line, where), found
    assert all(p.file == str(path) for p in info.value.problems)
    text = str(info.value)
    assert str(path) in text and "s3cretpw" not in text
    for hint in case.hints:
        assert hint in text, text


def test_one_file_with_several_problems_reports_all_of_them(tmp_path: Path) -> None:
    path = write(tmp_path, """\
kind: sql
connection: {url: 'sqlite:///x.db', fastpath: adbc}
retries: three
streams:
  - name: AC01
    table: AC01
    drift: evolv
  - name: AC01
    query: select 1
    cursr: AAE036
""")
    with pytest.raises(ConfigError) as info:
        load_system(path, tmp_path)
    assert isinstance(info.value, ConfigProblems)
    assert [(p.line, p.path) for p in info.value.problems] == [
        (2, "connection.fastpath"), (3, "retries"), (7, "streams[0].drift"),
        (8, "streams[1].name"), (10, "streams[1].cursr")]
    text = str(info.value)
    assert text.startswith(f"5 problems in {path}:")
    assert "did you mean 'fast_path'" in text and "did you mean 'cursor'" in text


def test_valid_sql_file_loads(tmp_path: Path) -> None:
    cfg = load_system(write(tmp_path, VALID_SQL), tmp_path)
    assert cfg.system == "si_core" and cfg.kind == "sql" and cfg.title == "社保核心系统"
    stream = cfg.stream("AC01")
    assert stream.cursor == "AAE036" and stream.primary_key == ["AAC001"]
    assert stream.mapping == {"entity": "person", "fields": {"citizen_id": "AAC002"}}
    assert stream.options == {"table": "AC01"}
    assert (cfg.retries, cfg.retry_delay_seconds, cfg.owner, cfg.batch_size) == (
        2, 60, "hrss-hub", 10_000)
    # relative sqlite paths are relative to the workspace
    assert cfg.connection["url"] == f"sqlite:///{(tmp_path / 'sources/si_core.db').resolve()}"


def test_values_are_read_as_the_models_say(tmp_path: Path) -> None:
    text = ("kind: files\nconnection: {path: drop}\nretries: '3'\n"
            "streams: [{name: a, header_row: '2', pattern: '*.xlsx', primary_key: ID}]\n")
    cfg = load_system(write(tmp_path, text), tmp_path)
    assert cfg.retries == 3
    assert cfg.streams[0].options == {"header_row": 2, "pattern": "*.xlsx"}
    assert cfg.streams[0].primary_key == ["ID"]


def test_system_defaults_to_file_name(tmp_path: Path) -> None:
    text = VALID_SQL.replace("system: si_core\n", "")
    assert load_system(write(tmp_path, text, "ylbx.yaml"), tmp_path).system == "ylbx"


def test_unknown_stream_lists_valid_ones(tmp_path: Path) -> None:
    cfg = load_system(write(tmp_path, VALID_SQL), tmp_path)
    with pytest.raises(ConfigError, match="did you mean 'AC01'"):
        cfg.stream("AC1")


def test_load_systems_is_sorted_and_reports_every_file(tmp_path: Path) -> None:
    write(tmp_path, VALID_SQL.replace("si_core", "b_sys"), "b.yaml")
    write(tmp_path, VALID_SQL.replace("si_core", "a_sys"), "a.yml")
    systems = load_systems(tmp_path / "connectors", tmp_path)
    assert list(systems) == ["a_sys", "b_sys"]
    write(tmp_path, VALID_SQL.replace("si_core", "a_sys"), "c.yaml")
    write(tmp_path, VALID_SQL.replace("retries", "x").replace("kind: sql", "kind: sq"), "d.yaml")
    with pytest.raises(ConfigProblems) as info:
        load_systems(tmp_path / "connectors", tmp_path)
    assert [(Path(p.file).name, p.path) for p in info.value.problems] == [
        ("c.yaml", "system"), ("d.yaml", "kind")]
    assert "defined twice" in str(info.value)


def test_hub_batch_size_is_every_connectors_default(tmp_path: Path) -> None:
    """Defect 11: hub.yaml's batch_size was validated and never read."""
    (tmp_path / "hub.yaml").write_text("level: county\ndivision: '510107'\nbatch_size: 7\n"
                                       "threshold: {critical_fail_pct: 20}\n", encoding="utf-8")
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_text("id,v\n" + "".join(f"{i},x\n" for i in range(20)),
                                encoding="utf-8")
    write(tmp_path, "kind: files\nconnection: {path: drop}\nstreams: [{name: a}]\n", "own.yaml")
    write(tmp_path, "kind: files\nconnection: {path: drop}\nbatch_size: 5\n"
                    "streams: [{name: a, threshold: {warn_fail_pct: 1}}]\n", "set.yaml")
    from hrss_hub.connectors import create_connector
    from hrss_hub.pipeline import load_workspace_systems

    systems = load_workspace_systems(load_config(tmp_path / "hub.yaml"))
    assert systems["own"].batch_size == 7 and systems["set"].batch_size == 5
    for name, size in (("own", 7), ("set", 5)):
        chunks = list(create_connector(systems[name]).read("a"))
        assert chunks[0].batch.num_rows == size
        assert sum(c.batch.num_rows for c in chunks) == 20
    # the workspace's threshold is every stream's default, key by key
    assert systems["own"].streams[0].threshold == {"critical_fail_pct": 20.0}
    assert systems["set"].streams[0].threshold == {"critical_fail_pct": 20.0,
                                                   "warn_fail_pct": 1.0}


def test_files_paths_are_workspace_relative(tmp_path: Path) -> None:
    from hrss_hub.connectors import create_connector
    from hrss_hub.connectors.files import FilesConnector

    text = "kind: files\nconnection: {path: drop}\nstreams: [{name: a}]\n"
    connector = create_connector(load_system(write(tmp_path, text), tmp_path))
    assert isinstance(connector, FilesConnector)
    assert connector.folder == (tmp_path / "drop").resolve()


def test_credentials_from_airflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.connectors.credentials import airflow_connection, resolve_sql_url

    monkeypatch.setenv("AIRFLOW_CONN_SI_CORE", "postgres://hub:p%40ss@db.local:5433/si")
    info = airflow_connection("si_core")
    assert (info.login, info.password, info.host, info.port, info.schema) == (
        "hub", "p@ss", "db.local", 5433, "si")
    resolved = resolve_sql_url({"conn_id": "si_core"})
    assert resolved.value == "postgresql+psycopg://hub:p%40ss@db.local:5433/si"
    assert resolved.secrets == ("p@ss",)
    monkeypatch.setenv("AIRFLOW_CONN_SI_JSON", '{"conn_type": "mysql", "host": "h", '
                       '"login": "u", "password": "pw1", "schema": "d", "port": 3306}')
    assert resolve_sql_url({"conn_id": "si_json"}).value == "mysql+pymysql://u:pw1@h:3306/d"


def test_missing_env_var_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.connectors.credentials import resolve_sql_url

    monkeypatch.delenv("NO_SUCH_URL_VAR", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_URL_VAR is not set"):
        resolve_sql_url({"url_env": "NO_SUCH_URL_VAR"}, system="x")


def test_builtin_kinds_are_registered() -> None:
    assert {"sql", "files", "rest"} <= set(kinds())


def test_registry_accepts_new_kinds(tmp_path: Path) -> None:
    from typing import ClassVar

    from hrss_hub.connectors import ConnectorKind, create_connector, register_kind
    from hrss_hub.connectors.registry import _REGISTRY

    @register_kind
    class Dummy(ConnectorKind):
        kind: ClassVar[str] = "dummy_test"
        connection_keys: ClassVar[frozenset[str]] = frozenset({"x"})

        def check(self) -> None: ...
        def discover(self) -> dict[str, Any]: return {}
        def read(self, stream: str, state: Any = None) -> Any: return iter(())

    try:
        cfg = load_system(write(tmp_path, "kind: dummy_test\nconnection: {x: 1}\n"
                                "streams: [{name: s}]\n"), tmp_path)
        assert isinstance(create_connector(cfg), Dummy)
        assert cfg.connection == {"x": 1}
        # a kind that declares only key names still gets its keys checked, with lines
        with pytest.raises(ConfigProblems) as info:
            load_system(write(tmp_path, "kind: dummy_test\nconnection: {y: 1}\n"
                              "streams: [{name: s, table: t}]\n", "d.yaml"), tmp_path)
        assert [(p.line, p.path) for p in info.value.problems] == [
            (2, "connection.y"), (3, "streams[0].table")]
    finally:
        _REGISTRY.pop("dummy_test")


def test_a_kind_declares_its_own_option_models(tmp_path: Path) -> None:
    from typing import ClassVar

    from hrss_hub.connectors import ConnectorKind, register_kind
    from hrss_hub.connectors.options import OptionsModel, StreamBase
    from hrss_hub.connectors.registry import _REGISTRY

    class LdapConnection(OptionsModel):
        host: str
        port: int = 389

    class LdapStream(StreamBase):
        base_dn: str

    @register_kind
    class Ldap(ConnectorKind):
        kind: ClassVar[str] = "ldap_test"
        connection_model: ClassVar[type[OptionsModel]] = LdapConnection
        stream_model: ClassVar[type[StreamBase]] = LdapStream

    try:
        cfg = load_system(write(tmp_path, "kind: ldap_test\nconnection: {host: h, port: '636'}\n"
                                "streams: [{name: s, base_dn: 'o=x'}]\n"), tmp_path)
        assert cfg.connection == {"host": "h", "port": 636}
        assert cfg.streams[0].options == {"base_dn": "o=x"}
        with pytest.raises(ConfigProblems) as info:
            load_system(write(tmp_path, "kind: ldap_test\nconnection: {port: x}\n"
                              "streams: [{name: s}]\n", "d.yaml"), tmp_path)
        assert [(p.line, p.path, p.message) for p in info.value.problems] == [
            (2, "connection.host", "host is required"),
            (2, "connection.port", "port must be an integer, got 'x'"),
            (3, "streams[0].base_dn", "base_dn is required")]
    finally:
        _REGISTRY.pop("ldap_test")


def test_builtin_kinds_are_checked_by_their_models_alone() -> None:
    """One parser: a built-in kind's file checks live in its option models (which the DAG
    parser uses too), not in a ``validate_config`` that only ``hrss-hub run`` would call."""
    from hrss_hub.connectors.options import BUILTIN_OPTIONS
    from hrss_hub.connectors.registry import kind_class

    for kind, options in BUILTIN_OPTIONS.items():
        cls = kind_class(kind)
        assert not hasattr(cls, "validate_config"), kind
        assert (cls.connection_model, cls.stream_model) == (options.connection,  # type: ignore[attr-defined]
                                                            options.stream), kind


def test_the_fast_path_model_knows_every_fetch_backend() -> None:
    """``fast_path`` is checked at DAG-parse time without SQLAlchemy, so the model lists the
    choices itself: a new fetch backend must be added there too (this test says so)."""
    from typing import get_args

    from hrss_hub.connectors.options import FAST_PATHS, SqlConnection
    from hrss_hub.connectors.sql_fetch import fast_path_choices

    literal = get_args(SqlConnection.model_fields["fast_path"].annotation)
    assert set(FAST_PATHS) == set(literal) == set(fast_path_choices())

"""YAML → SystemConfig: valid files load; every mistake names file, YAML path and choices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
    mapping: {entity: person, anything: [goes, here]}
"""

# (yaml text, fragments the error must contain)
INVALID: list[tuple[str, list[str]]] = [
    ("kind: sqll\nstreams: [{name: a, table: a}]\n", ["unknown connector kind 'sqll'",
                                                      "did you mean 'sql'", "files"]),
    ("kind: sql\nconection: {}\nstreams: [{name: a, table: a}]\n",
     ["unknown key 'conection'", "did you mean 'connection'", "path=conection"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db', fastpath: adbc}\n"
     "streams: [{name: a, table: a}]\n",
     ["unknown key 'fastpath'", "connection.fastpath", "did you mean 'fast_path'"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
     "streams: [{name: a, table: a}, {name: b, table: b, cursr: x}]\n",
     ["unknown key 'cursr'", "path=streams[1].cursr", "did you mean 'cursor'"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
     "streams: [{name: a, table: a, drift: evolv}]\n",
     ["unknown drift policy", "streams[0].drift", "evolve"]),
    ("kind: sql\nconnection: {url: 'postgresql://u:s3cretpw@db/x'}\n"
     "streams: [{name: a, table: a}]\n",
     ["contains a password", "url_env", "conn_id"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams: [{name: a}]\n",
     ["exactly one of table or query", "streams[0]"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db', fast_path: turbo}\n"
     "streams: [{name: a, table: a}]\n", ["unknown fast_path 'turbo'", "adbc"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\nbatch_size: -1\n"
     "streams: [{name: a, table: a}]\n", ["batch_size must be a positive integer"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\nstreams: []\n", ["streams must be"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
     "streams: [{name: a, table: a}, {name: a, table: b}]\n", ["duplicate stream name"]),
    ("kind: files\nconnection: {path: drop}\nstreams: [{name: a, format: xls}]\n",
     ["unknown format 'xls'", "xlsx"]),
    ("kind: files\nconnection: {path: drop}\nstreams: [{name: a, encoding: klingon}]\n",
     ["unknown encoding", "streams[0].encoding"]),
    ("kind: sql\nconnection: {url: 'sqlite:///x.db'}\n"
     "streams: [{name: a, query: 'select 1', schema: {x: integer}}]\n",
     ["unknown type 'integer'", "streams[0].schema.x"]),
    ("kind: files\nconnection: {path: drop}\nstreams: [{name: a, schema: {x: integr}}]\n",
     ["unknown type 'integr'", "streams[0].schema.x"]),
    ("kind: [unclosed\n", ["not valid YAML", "line="]),
]


def write(tmp_path: Path, text: str, name: str = "si_core.yaml") -> Path:
    folder = tmp_path / "connectors"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_kinds_are_registered() -> None:
    assert {"sql", "files"} <= set(kinds())


def test_valid_sql_file_loads(tmp_path: Path) -> None:
    cfg = load_system(write(tmp_path, VALID_SQL), tmp_path)
    assert cfg.system == "si_core" and cfg.kind == "sql" and cfg.title == "社保核心系统"
    stream = cfg.stream("AC01")
    assert stream.cursor == "AAE036" and stream.primary_key == ["AAC001"]
    assert stream.mapping == {"entity": "person", "anything": ["goes", "here"]}
    assert stream.options == {"table": "AC01"}
    # relative sqlite paths are relative to the workspace
    assert cfg.connection["url"] == f"sqlite:///{(tmp_path / 'sources/si_core.db').resolve()}"


def test_system_defaults_to_file_name(tmp_path: Path) -> None:
    text = VALID_SQL.replace("system: si_core\n", "")
    assert load_system(write(tmp_path, text, "ylbx.yaml"), tmp_path).system == "ylbx"


@pytest.mark.parametrize(("text", "fragments"), INVALID, ids=[f[1][0][:30] for f in INVALID])
def test_invalid_files_say_what_and_where(tmp_path: Path, text: str,
                                          fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_system(path, tmp_path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert "s3cretpw" not in message


def test_unknown_stream_lists_valid_ones(tmp_path: Path) -> None:
    cfg = load_system(write(tmp_path, VALID_SQL), tmp_path)
    with pytest.raises(ConfigError, match="did you mean 'AC01'"):
        cfg.stream("AC1")


def test_load_systems_is_sorted_and_rejects_duplicates(tmp_path: Path) -> None:
    write(tmp_path, VALID_SQL.replace("si_core", "b_sys"), "b.yaml")
    write(tmp_path, VALID_SQL.replace("si_core", "a_sys"), "a.yml")
    systems = load_systems(tmp_path / "connectors", tmp_path)
    assert list(systems) == ["a_sys", "b_sys"]
    write(tmp_path, VALID_SQL.replace("si_core", "a_sys"), "c.yaml")
    with pytest.raises(ConfigError, match="defined twice"):
        load_systems(tmp_path / "connectors", tmp_path)


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
    finally:
        _REGISTRY.pop("dummy_test")

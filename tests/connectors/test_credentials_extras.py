"""Airflow connection extras reach the database driver (TLS settings are never dropped)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from hrss_hub.connectors import create_connector, parse_system
from hrss_hub.connectors.credentials import airflow_connection, resolve_sql_url
from hrss_hub.errors import ConfigError, SourceError


def _connect_args(url: str) -> dict[str, object]:
    parsed = sa.make_url(url)
    engine = sa.create_engine(parsed)
    try:
        _, kwargs = engine.dialect.create_connect_args(parsed)
    finally:
        engine.dispose()
    return dict(kwargs)


def test_uri_query_extras_reach_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SI_TLS", "postgres://hub:pw@db.local:5432/si"
                       "?sslmode=verify-full&sslrootcert=%2Fetc%2Fhrss%2Fca.pem")
    info = airflow_connection("si_tls")
    assert info.extra == {"sslmode": "verify-full", "sslrootcert": "/etc/hrss/ca.pem"}
    url = resolve_sql_url({"conn_id": "si_tls"}).value
    assert dict(sa.make_url(url).query) == {"sslmode": "verify-full",
                                            "sslrootcert": "/etc/hrss/ca.pem"}
    args = _connect_args(url)
    assert args["sslmode"] == "verify-full" and args["sslrootcert"] == "/etc/hrss/ca.pem"


def test_json_extras_reach_the_driver_hook_only_ones_do_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SI_JSON", '{"conn_type": "postgres", "host": "h", '
                       '"login": "u", "password": "pw", "schema": "d", "extra": '
                       '{"sslmode": "require", "connect_timeout": 5, "cursor": "dictcursor", '
                       '"sqlalchemy_query": {"application_name": "hrss"}}}')
    args = _connect_args(resolve_sql_url({"conn_id": "si_json"}).value)
    assert args["sslmode"] == "require" and args["application_name"] == "hrss"
    assert str(args["connect_timeout"]) == "5"
    assert "cursor" not in args  # configures Airflow's hook, psycopg would refuse it


def test_airflow_extra_json_in_the_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = quote('{"sslmode": "verify-ca", "sslrootcert": "/ca.pem"}')
    monkeypatch.setenv("AIRFLOW_CONN_SI_X", f"postgresql://u@h/d?__extra__={extra}")
    assert dict(sa.make_url(resolve_sql_url({"conn_id": "si_x"}).value).query) == {
        "sslmode": "verify-ca", "sslrootcert": "/ca.pem"}


def test_mysql_ssl_extra_becomes_pymysql_ssl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HR_DB", '{"conn_type": "mysql", "host": "h", "login": "u",'
                       ' "password": "pw", "schema": "hr", "extra": {"charset": "utf8mb4", '
                       '"ssl": {"ca": "/ca.pem", "cert": "/c.pem", "key": "/k.pem"}}}')
    args = _connect_args(resolve_sql_url({"conn_id": "hr_db"}).value)
    assert args["ssl"] == {"ca": "/ca.pem", "cert": "/c.pem", "key": "/k.pem"}
    assert args["charset"] == "utf8mb4"


def test_nested_extra_for_postgres_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BAD", '{"conn_type": "postgres", "host": "h", '
                       '"extra": {"options": {"a": 1}}}')
    with pytest.raises(ConfigError, match="extra 'options' is not a plain value"):
        resolve_sql_url({"conn_id": "bad"})


@pytest.mark.parametrize("fast_path", ["auto", "off"])  # ADBC (libpq) and psycopg
def test_sslmode_reaches_the_real_driver(pg_url: str, fast_path: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # the local test server has SSL off: sslmode=require must make the connect fail, which
    # only happens if the extra reached the driver; sslmode=disable connects
    base = sa.make_url(pg_url).set(drivername="postgres")
    for mode, ok in (("disable", True), ("require", False)):
        monkeypatch.setenv("AIRFLOW_CONN_SI_PG",
                           base.render_as_string(hide_password=False) + f"?sslmode={mode}")
        cfg = parse_system({"kind": "sql", "connection": {"conn_id": "si_pg",
                                                          "fast_path": fast_path},
                            "streams": [{"name": "q", "query": "SELECT 1 AS one",
                                         "primary_key": ["one"]}]},
                           tmp_path / "x.yaml", tmp_path)
        connector = create_connector(cfg)
        if ok:
            rows = [r for c in connector.read("q") for r in c.batch.to_pylist()]
            assert [str(r["one"]) for r in rows] == ["1"]
        else:
            with pytest.raises(SourceError, match="SSL"):
                list(connector.read("q"))

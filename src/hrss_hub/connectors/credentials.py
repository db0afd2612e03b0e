"""Resolving secrets that never appear in YAML: env vars and Airflow connections.

A ``conn_id`` is resolved like Airflow itself does it, cheapest first: the
``AIRFLOW_CONN_<CONN_ID>`` environment variable (URI or JSON form), then — only if Airflow
is installed — ``BaseHook.get_connection``. Every resolved password is returned alongside
the URL so callers can pass it to :func:`hrss_hub.errors.redact`.

A connection's *extras* reach the driver, as Airflow's own database hooks pass them: in
the URI form they are the query (``postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem``,
or Airflow's ``__extra__=<JSON>``), in the JSON form the ``extra`` object. They become the
SQLAlchemy URL's query, which psycopg, libpq (the ADBC fast path) and PyMySQL read:
PostgreSQL takes libpq parameters (``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``,
``connect_timeout``, ``application_name``, ``options`` …); MySQL/MariaDB takes Airflow's
``ssl`` object (``{"ca": …, "cert": …, "key": …}``) as ``ssl_ca``/``ssl_cert``/``ssl_key``,
plus ``charset`` and ``connect_timeout``. Extras that only steer Airflow's hooks
(``cursor``, ``iam``, ``aws_conn_id`` …) are not passed on; ``sqlalchemy_query`` (Airflow's
extra for the SQLAlchemy URL) is merged in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from hrss_hub.errors import ConfigError

#: Airflow conn_type / URI scheme → SQLAlchemy driver name
_SQLA_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}

#: extras of Airflow's hooks that configure the hook, not the database driver
_HOOK_ONLY_EXTRAS = frozenset({
    "cursor", "iam", "redshift", "redshift-serverless", "cluster-identifier",
    "workgroup-name", "aws_conn_id", "sqlalchemy_scheme", "sqlalchemy_query",
    "enable_log_db_messages", "client",
})
#: the MySQL ``ssl`` extra's keys → PyMySQL / SQLAlchemy URL query names
_MYSQL_SSL = {"ca": "ssl_ca", "cert": "ssl_cert", "key": "ssl_key", "capath": "ssl_capath",
              "cipher": "ssl_cipher", "check_hostname": "ssl_check_hostname"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def driver_query(conn_type: str, extra: dict[str, Any]) -> dict[str, str]:
    """The URL query a connection's extras give the database driver (see the module doc)."""
    query: dict[str, str] = {}
    driver = _SQLA_DRIVERS.get(conn_type, conn_type)
    for key, value in extra.items():
        if key in _HOOK_ONLY_EXTRAS or value is None:
            continue
        if key == "ssl" and driver.startswith("mysql"):
            ssl = json.loads(value) if isinstance(value, str) else value
            if not isinstance(ssl, dict):
                raise ConfigError("the ssl extra of a MySQL connection must be an object",
                                  {}, 'e.g. {"ssl": {"ca": "/etc/ssl/ca.pem"}}')
            for name, item in ssl.items():
                query[_MYSQL_SSL.get(name, f"ssl_{name}")] = _text(item)
            continue
        if isinstance(value, dict | list):
            raise ConfigError(f"connection extra {key!r} is not a plain value", {},
                              "extras reaching the driver are strings or numbers")
        query[key] = _text(value)
    sqlalchemy_query = extra.get("sqlalchemy_query") or {}
    if isinstance(sqlalchemy_query, dict):
        query.update({str(k): _text(v) for k, v in sqlalchemy_query.items()})
    return query


@dataclass(frozen=True)
class ConnectionInfo:
    """An Airflow-style connection, parsed."""

    conn_type: str
    host: str = ""
    login: str = ""
    password: str = ""
    schema: str = ""
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def sqlalchemy_url(self) -> str:
        """The connection as an SQLAlchemy URL (password included: handle with care)."""
        driver = _SQLA_DRIVERS.get(self.conn_type, self.conn_type)
        if driver == "sqlite":
            return f"sqlite:///{self.host or self.schema}"
        auth = quote(self.login, safe="") if self.login else ""
        if self.password:
            auth += ":" + quote(self.password, safe="")
        netloc = (auth + "@" if auth else "") + self.host + (f":{self.port}" if self.port else "")
        query = driver_query(self.conn_type, self.extra)
        tail = "?" + urlencode(query) if query else ""
        return f"{driver}://{netloc}/{self.schema}{tail}"


@dataclass(frozen=True)
class Resolved:
    """A resolved secret value plus the literals that must be redacted from messages."""

    value: str
    secrets: tuple[str, ...] = ()


def env_secret(var: str, **context: Any) -> str:
    """The value of environment variable ``var``; ``ConfigError`` naming it if unset."""
    value = os.environ.get(var)
    if not value:
        raise ConfigError(f"environment variable {var} is not set", context,
                          f"export {var}=... before running (it holds a secret, so it is "
                          "not in the YAML)")
    return value


def _parse_uri(uri: str) -> ConnectionInfo:
    parts = urlsplit(uri)
    scheme = parts.scheme.replace("-", "_")
    if scheme == "sqlite":
        # Airflow writes sqlite as sqlite:///relative or sqlite:////absolute
        return ConnectionInfo(conn_type="sqlite", host=unquote(parts.path[1:]))
    extra: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "__extra__":  # Airflow's form for extras that are not flat strings
            loaded = json.loads(value)
            if not isinstance(loaded, dict):
                raise ValueError("__extra__ is not a JSON object")
            extra.update(loaded)
        else:
            extra[key] = value
    return ConnectionInfo(
        conn_type=scheme,
        host=unquote(parts.hostname or ""),
        login=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        schema=unquote(parts.path.lstrip("/")),
        port=parts.port,
        extra=extra,
    )


def _parse_json(text: str) -> ConnectionInfo:
    data = json.loads(text)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra else {}
    return ConnectionInfo(
        conn_type=str(data.get("conn_type", "")),
        host=str(data.get("host") or ""),
        login=str(data.get("login") or ""),
        password=str(data.get("password") or ""),
        schema=str(data.get("schema") or ""),
        port=int(data["port"]) if data.get("port") else None,
        extra=dict(extra),
    )


def airflow_connection(conn_id: str, **context: Any) -> ConnectionInfo:
    """Resolve an Airflow connection: env var first, Airflow's hook second."""
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(var)
    if raw:
        try:
            return _parse_json(raw) if raw.lstrip().startswith("{") else _parse_uri(raw)
        except (ValueError, TypeError) as exc:
            # never echo the value: it holds the password
            raise ConfigError(f"{var} is neither a connection URI nor JSON ({type(exc).__name__})",
                              context, "use the form scheme://login:password@host:port/schema"
                              ) from None
    return _from_airflow(conn_id, var, **context)


def _from_airflow(conn_id: str, var: str, **context: Any) -> ConnectionInfo:
    import importlib

    hook: Any = None
    for module in ("airflow.sdk", "airflow.hooks.base"):  # Airflow 3, then Airflow 2
        try:
            hook = importlib.import_module(module).BaseHook
            break
        except (ImportError, AttributeError):
            continue
    if hook is None:
        raise ConfigError(f"Airflow connection {conn_id!r} not found", context,
                          f"set {var} (URI or JSON), or install Airflow and define it there"
                          ) from None
    try:
        conn = hook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises assorted types for "not found"
        raise ConfigError(f"Airflow connection {conn_id!r} could not be loaded: "
                          f"{type(exc).__name__}", context,
                          f"define it in Airflow or set {var}") from None
    return ConnectionInfo(
        conn_type=str(conn.conn_type or ""), host=str(conn.host or ""),
        login=str(conn.login or ""), password=str(conn.password or ""),
        schema=str(conn.schema or ""), port=conn.port, extra=dict(conn.extra_dejson or {}),
    )


def resolve_sql_url(connection: dict[str, Any], **context: Any) -> Resolved:
    """The SQLAlchemy URL of a ``kind: sql`` connection block, with its secrets."""
    if connection.get("url_env"):
        url = env_secret(str(connection["url_env"]), **context)
        password = urlsplit(url).password
        return Resolved(url, (unquote(password),) if password else ())
    if connection.get("conn_id"):
        info = airflow_connection(str(connection["conn_id"]), **context)
        return Resolved(info.sqlalchemy_url(), (info.password,) if info.password else ())
    if connection.get("url"):
        return Resolved(str(connection["url"]))
    raise ConfigError("connection needs one of url, url_env or conn_id", context,
                      "use url_env (an env var holding the URL) or conn_id (Airflow)")

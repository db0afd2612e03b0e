"""``connectors/<system>.yaml`` → :class:`SystemConfig`.

Every problem is a ``ConfigError`` naming the file and the YAML path of the offending
value (``streams[1].cursor``), with the valid choices and a did-you-mean suggestion.
Kind-specific keys are checked against the kind class's ``connection_keys`` and
``stream_keys``; ``mapping:`` is passed through untouched (it is validated by the mapping
compiler against the standard).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from hrss_hub.connectors.base import StreamConfig, SystemConfig
from hrss_hub.connectors.registry import kind_class
from hrss_hub.errors import ConfigError, unknown_choice

TOP_KEYS = frozenset({
    "system", "title", "kind", "connection", "batch_size", "schedule", "retries",
    "retry_delay_seconds", "owner", "tags", "streams",
})
COMMON_STREAM_KEYS = frozenset({"name", "primary_key", "cursor", "drift", "threshold", "mapping"})
DRIFT_POLICIES = ("fail", "evolve", "ignore")


class _Ctx:
    """Where we are in a file, for error messages."""

    def __init__(self, path: Path, system: str | None = None) -> None:
        self.file = str(path)
        self.system = system

    def error(self, message: str, where: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, {"system": self.system, "file": self.file, "path": where},
                           hint)

    def check_keys(self, data: dict[str, Any], valid: frozenset[str], where: str) -> None:
        for key in data:
            if key not in valid:
                path = f"{where}.{key}" if where else str(key)
                raise unknown_choice("key", str(key), valid, system=self.system,
                                     file=self.file, path=path)


def _positive_int(ctx: _Ctx, value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ctx.error(f"{where} must be a positive integer, got {value!r}", where)
    return value


def _str_list(ctx: _Ctx, value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ctx.error(f"{where} must be a column name or a list of column names", where)
    return [str(v) for v in value]


def _check_url(ctx: _Ctx, connection: dict[str, Any]) -> None:
    url = connection.get("url")
    if url is None:
        return
    try:
        password = urlsplit(str(url)).password
    except ValueError:
        password = None
    if password:
        # the message must not echo the URL: str(HubError) redacts, but be explicit
        raise ctx.error("connection.url contains a password", "connection.url",
                        "use url_env (name of an env var holding the URL) or conn_id "
                        "(an Airflow connection); secrets never go in the YAML")


def _relative_sqlite(url: str, workspace: Path) -> str:
    # relative sqlite paths are relative to the workspace, not the process cwd
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((workspace / url[len(prefix):]).resolve())
    return url


def _stream(ctx: _Ctx, raw: Any, index: int, stream_keys: frozenset[str]) -> StreamConfig:
    where = f"streams[{index}]"
    if not isinstance(raw, dict):
        raise ctx.error(f"{where} must be a mapping with at least 'name'", where)
    ctx.check_keys(raw, COMMON_STREAM_KEYS | stream_keys, where)
    name = raw.get("name")
    if not isinstance(name, str | int) or not str(name):
        raise ctx.error(f"{where}.name is required", f"{where}.name")
    drift = raw.get("drift", "fail")
    if drift not in DRIFT_POLICIES:
        raise unknown_choice("drift policy", str(drift), DRIFT_POLICIES, system=ctx.system,
                             file=ctx.file, path=f"{where}.drift")
    cursor = raw.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ctx.error(f"{where}.cursor must be one column name", f"{where}.cursor")
    threshold = raw.get("threshold") or {}
    if not isinstance(threshold, dict):
        raise ctx.error(f"{where}.threshold must be a mapping", f"{where}.threshold")
    mapping = raw.get("mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise ctx.error(f"{where}.mapping must be a mapping", f"{where}.mapping")
    options = {k: v for k, v in raw.items() if k not in COMMON_STREAM_KEYS}
    return StreamConfig(
        name=str(name),
        primary_key=_str_list(ctx, raw.get("primary_key", []), f"{where}.primary_key"),
        cursor=cursor,
        drift=str(drift),
        threshold=dict(threshold),
        mapping=mapping,
        options=options,
    )


def parse_system(raw: Any, path: Path, workspace: Path) -> SystemConfig:
    """Validate one parsed YAML document (``raw``) read from ``path``."""
    ctx = _Ctx(path)
    if not isinstance(raw, dict):
        raise ctx.error("a connector file must be a mapping (system, kind, connection, "
                        "streams)", "")
    system = str(raw.get("system") or path.stem)
    ctx.system = system
    ctx.check_keys(raw, TOP_KEYS, "")
    if "kind" not in raw:
        raise ctx.error("kind is required", "kind", "set kind: sql | rest | files")
    cls = kind_class(str(raw["kind"]), system=system, file=str(path), path="kind")
    connection = raw.get("connection") or {}
    if not isinstance(connection, dict):
        raise ctx.error("connection must be a mapping", "connection")
    ctx.check_keys(connection, cls.connection_keys, "connection")
    _check_url(ctx, connection)
    connection = dict(connection)
    if isinstance(connection.get("url"), str):
        connection["url"] = _relative_sqlite(connection["url"], workspace)
    streams_raw = raw.get("streams")
    if not isinstance(streams_raw, list) or not streams_raw:
        raise ctx.error("streams must be a non-empty list", "streams")
    streams = [_stream(ctx, s, i, cls.stream_keys) for i, s in enumerate(streams_raw)]
    seen: set[str] = set()
    for i, stream in enumerate(streams):
        if stream.name in seen:
            raise ctx.error(f"duplicate stream name {stream.name!r}", f"streams[{i}].name")
        seen.add(stream.name)
    tags = raw.get("tags") or []
    if not isinstance(tags, list):
        raise ctx.error("tags must be a list", "tags")
    cfg = SystemConfig(
        system=system,
        kind=cls.kind,
        connection=connection,
        streams=streams,
        source_file=path,
        workspace=workspace,
        title=str(raw.get("title") or ""),
        batch_size=_positive_int(ctx, raw.get("batch_size", 10_000), "batch_size"),
        schedule=str(raw["schedule"]) if raw.get("schedule") else None,
        retries=int(raw.get("retries", 2)),
        retry_delay_seconds=int(raw.get("retry_delay_seconds", 60)),
        owner=str(raw.get("owner") or "hrss-hub"),
        tags=[str(t) for t in tags],
    )
    validate = getattr(cls, "validate_config", None)
    if validate is not None:  # kind-specific checks (e.g. table xor query)
        validate(cfg)
    return cfg


def load_system(path: Path, workspace: Path) -> SystemConfig:
    """Load and validate one ``connectors/<system>.yaml``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("connector file not found", {"file": str(path)}) from None
    except UnicodeDecodeError:
        raise ConfigError("connector file is not UTF-8", {"file": str(path)},
                          "save the YAML as UTF-8") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                          {"file": str(path), "line": line}) from None
    return parse_system(raw, path, Path(workspace))


def load_systems(connectors_dir: Path, workspace: Path) -> dict[str, SystemConfig]:
    """Every ``*.yaml``/``*.yml`` in ``connectors_dir``, by system name (sorted)."""
    connectors_dir = Path(connectors_dir)
    if not connectors_dir.is_dir():
        raise ConfigError("connectors folder not found", {"path": str(connectors_dir)},
                          "create it and put one <system>.yaml per source system in it")
    files = sorted([*connectors_dir.glob("*.yaml"), *connectors_dir.glob("*.yml")])
    systems: dict[str, SystemConfig] = {}
    for file in files:
        cfg = load_system(file, workspace)
        if cfg.system in systems:
            raise ConfigError(f"system {cfg.system!r} is defined twice",
                              {"file": str(file), "path": "system"},
                              f"also defined in {systems[cfg.system].source_file}")
        systems[cfg.system] = cfg
    return dict(sorted(systems.items()))

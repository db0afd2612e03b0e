"""What a DAG needs to know about a source system, read cheaply at DAG-parse time.

The Airflow dag-processor re-parses the DAG folder every few seconds, in a fresh process
per file. So this module reads only local YAML (``hub.yaml`` and ``connectors/*.yaml``)
with PyYAML and the standard library: no pyarrow, SQLAlchemy, connector classes, ledger or
network. Full validation of a connector file (kind-specific keys, mapping against the
standard) happens inside the tasks, where it costs nothing at parse time and its error
lands in the task log and the ledger.

The defaults below mirror :func:`hrss_hub.connectors.config.parse_system`;
``tests/airflow/test_spec.py`` checks that both readers agree on every connector template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hrss_hub.config import load_config

#: DAG id prefix of the per-system sync DAGs.
SYNC_PREFIX = "hrss_sync_"
#: DAG id of the publish/deliver DAG (scheduled on the entity assets).
PUBLISH_DAG_ID = "hrss_publish"
#: URI scheme of the Airflow assets that stand for standard entities.
ASSET_PREFIX = "hrss://entity/"

# the same defaults as hrss_hub.connectors.config.parse_system
DEFAULT_RETRIES = 2
DEFAULT_RETRY_DELAY_SECONDS = 60
DEFAULT_OWNER = "hrss-hub"

_DAG_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available


@dataclass(frozen=True)
class StreamSpec:
    """One stream: its name and the standard entity its mapping targets (if any)."""

    name: str
    entity: str | None = None


@dataclass(frozen=True)
class SystemSpec:
    """The DAG-relevant part of one ``connectors/<system>.yaml``.

    ``error`` is set when the file could not be read; the factory then builds a DAG whose
    only task fails with that message, so one broken file never hides the other systems.
    """

    system: str
    file: Path
    title: str = ""
    schedule: str | None = None
    retries: int = DEFAULT_RETRIES
    retry_delay_seconds: int = DEFAULT_RETRY_DELAY_SECONDS
    owner: str = DEFAULT_OWNER
    tags: tuple[str, ...] = ()
    streams: tuple[StreamSpec, ...] = ()
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def dag_id(self) -> str:
        """``hrss_sync_<system>``, with characters Airflow refuses in ids replaced by ``_``."""
        return SYNC_PREFIX + _DAG_ID_UNSAFE.sub("_", self.system)

    @property
    def stream_names(self) -> list[str]:
        """Stream names in file order (the order of the mapped task instances)."""
        return [s.name for s in self.streams]

    @property
    def entities(self) -> list[str]:
        """The standard entities this system feeds, sorted, without duplicates."""
        return sorted({s.entity for s in self.streams if s.entity})


def asset_uri(entity: str) -> str:
    """The Airflow asset URI of a standard entity (``hrss://entity/person``)."""
    return ASSET_PREFIX + entity


def connectors_dir(config_path: str | Path) -> Path:
    """The workspace's connectors folder, as ``hub.yaml`` at ``config_path`` sets it."""
    cfg = load_config(config_path)
    assert cfg.connectors_dir is not None  # set by HubConfig.__post_init__
    return cfg.connectors_dir


def read_system_specs(config_path: str | Path) -> list[SystemSpec]:
    """One :class:`SystemSpec` per ``*.yaml``/``*.yml`` in the workspace's connectors folder.

    Sorted by file name. A missing folder gives no systems (an empty workspace is valid);
    an unreadable file gives a spec with ``error`` set.
    """
    folder = connectors_dir(config_path)
    if not folder.is_dir():
        return []
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    specs = [read_system_spec(f) for f in files]
    return _flag_duplicates(specs)


def read_system_spec(path: Path) -> SystemSpec:
    """The DAG-relevant keys of one connector file (``error`` set when it is unusable)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return SystemSpec(system=path.stem, file=path, error=f"{path}: cannot read: {exc}")
    if not isinstance(raw, dict):
        return SystemSpec(system=path.stem, file=path,
                          error=f"{path}: a connector file must be a mapping")
    system = str(raw.get("system") or path.stem)
    try:
        return SystemSpec(
            system=system,
            file=path,
            title=str(raw.get("title") or ""),
            schedule=str(raw["schedule"]) if raw.get("schedule") else None,
            retries=_non_negative(raw.get("retries", DEFAULT_RETRIES), "retries"),
            retry_delay_seconds=_non_negative(
                raw.get("retry_delay_seconds", DEFAULT_RETRY_DELAY_SECONDS),
                "retry_delay_seconds"),
            owner=str(raw.get("owner") or DEFAULT_OWNER),
            tags=tuple(str(t) for t in _list(raw.get("tags") or [], "tags")),
            streams=tuple(_streams(raw.get("streams"))),
        )
    except ValueError as exc:
        return SystemSpec(system=system, file=path, error=f"{path}: {exc}")


def _non_negative(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
    return value


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _streams(raw: Any) -> list[StreamSpec]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("streams must be a non-empty list")
    streams: list[StreamSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("name"):
            raise ValueError(f"streams[{i}].name is required")
        name = str(item["name"])
        if name in seen:
            raise ValueError(f"duplicate stream name {name!r}")
        seen.add(name)
        mapping = item.get("mapping")
        entity = mapping.get("entity") if isinstance(mapping, dict) else None
        streams.append(StreamSpec(name, str(entity) if entity else None))
    return streams


def _flag_duplicates(specs: list[SystemSpec]) -> list[SystemSpec]:
    # two files with the same system (or the same DAG id after sanitizing) would make one
    # DAG silently replace the other: the second one becomes an error DAG instead
    seen: dict[str, Path] = {}
    out: list[SystemSpec] = []
    for spec in specs:
        if spec.dag_id in seen and spec.error is None:
            spec = SystemSpec(system=spec.system + "__duplicate_" + spec.file.stem,
                              file=spec.file,
                              error=f"{spec.file}: system {spec.system!r} is also defined in "
                                    f"{seen[spec.dag_id]}")
        seen.setdefault(spec.dag_id, spec.file)
        out.append(spec)
    return out

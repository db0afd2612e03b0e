"""What a DAG needs to know about a source system, read cheaply at DAG-parse time.

The Airflow dag-processor re-parses the DAG folder every few seconds, in a fresh process
per file. Connector files are validated here with the same models as ``hrss-hub run``
(:mod:`hrss_hub.connectors.config`), which import no pyarrow, SQLAlchemy, connector class,
ledger or network: a file is either valid for both or refused by both, with the same
messages. A refused file becomes a one-task DAG that fails with every problem of the file
(see :func:`hrss_hub.airflow.factory.build_error_dag`), so one broken file never hides the
other systems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hrss_hub.config import ConfigProblems, load_config
from hrss_hub.connectors.config import (
    DEFAULT_OWNER,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY_SECONDS,
    ValidSystem,
    connector_files,
    validate_system_file,
)

#: DAG id prefix of the per-system sync DAGs.
SYNC_PREFIX = "hrss_sync_"
#: DAG id of the publish/deliver DAG (scheduled on the entity assets).
PUBLISH_DAG_ID = "hrss_publish"
#: URI scheme of the Airflow assets that stand for standard entities.
ASSET_PREFIX = "hrss://entity/"

_DAG_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class StreamSpec:
    """One stream: its name and the standard entity its mapping targets (if any)."""

    name: str
    entity: str | None = None


@dataclass(frozen=True)
class SystemSpec:
    """The DAG-relevant part of one ``connectors/<system>.yaml``.

    ``error`` is set when the file is not valid (every problem of it, as ``hrss-hub run``
    would report them); the factory then builds a DAG whose only task fails with it.
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

    @classmethod
    def of(cls, valid: ValidSystem) -> SystemSpec:
        """The spec of a validated connector file."""
        model = valid.model
        return cls(
            system=valid.system, file=valid.file, title=model.title, schedule=model.schedule,
            retries=model.retries, retry_delay_seconds=model.retry_delay_seconds,
            owner=model.owner, tags=tuple(model.tags),
            streams=tuple(StreamSpec(s.name, s.mapping.entity if s.mapping else None)
                          for s in model.streams))


#: URI scheme of the assets updated when an entity's new version is published
PUBLISHED_PREFIX = "hrss://published/"
#: URI scheme of the assets updated when a recipient's outbox is delivered to
OUTBOX_PREFIX = "hrss://outbox/"


def asset_uri(entity: str) -> str:
    """The Airflow asset URI of a standard entity's staged updates (``hrss://entity/person``):
    a sync DAG's run recorded them; ``hrss_publish`` is scheduled on these."""
    return ASSET_PREFIX + entity


def published_uri(entity: str) -> str:
    """The asset URI of an entity's published dataset (``hrss://published/person``): an
    event after a publish, so a department's DAG can run on "person published"."""
    return PUBLISHED_PREFIX + entity


def outbox_uri(recipient: str) -> str:
    """The asset URI of a recipient's outbox (``hrss://outbox/civil-affairs``)."""
    return OUTBOX_PREFIX + recipient


def read_recipients(config_path: str | Path) -> list[str]:
    """The recipient ids of the workspace's sharing agreements (``sharing/*.yaml``), read
    as plain YAML at parse time (a broken agreement is reported by publishing, not here)."""
    import yaml

    folder = load_config(config_path).sharing_dir
    if folder is None or not folder.is_dir():
        return []
    out: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        recipient = doc.get("recipient") if isinstance(doc, dict) else None
        rid = recipient.get("id") if isinstance(recipient, dict) else None
        if isinstance(rid, str) and rid:
            out.add(rid)
    return sorted(out)


def connectors_dir(config_path: str | Path) -> Path:
    """The workspace's connectors folder, as ``hub.yaml`` at ``config_path`` sets it."""
    cfg = load_config(config_path)
    assert cfg.connectors_dir is not None  # set by HubConfig.__post_init__
    return cfg.connectors_dir


def read_system_specs(config_path: str | Path) -> list[SystemSpec]:
    """One :class:`SystemSpec` per ``*.yaml``/``*.yml`` in the workspace's connectors folder.

    Sorted by file name. A missing folder gives no systems (an empty workspace is valid);
    an invalid file gives a spec with ``error`` set. A wrong ``hub.yaml`` raises (Airflow
    shows it as the DAG file's import error).
    """
    folder = connectors_dir(config_path)
    if not folder.is_dir():
        return []
    specs = [read_system_spec(f) for f in connector_files(folder)]
    return _flag_duplicates(specs)


def read_system_spec(path: Path) -> SystemSpec:
    """The DAG-relevant keys of one connector file (``error`` set when it is not valid)."""
    try:
        return SystemSpec.of(validate_system_file(path))
    except ConfigProblems as exc:
        system = next((p.system for p in exc.problems if p.system), None) or path.stem
        return SystemSpec(system=system, file=path, error=str(exc))


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

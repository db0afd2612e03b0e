"""``connectors/<system>.yaml`` → :class:`SystemConfig`, with every problem at once.

A connector file is validated against :class:`SystemFile` parametrised with the option
models of its ``kind`` (:mod:`hrss_hub.connectors.options`): common keys, the kind's
connection and stream keys, each stream's ``mapping:`` shape and ``threshold:``. Every
problem is reported together (:class:`~hrss_hub.config.ConfigProblems`), each with the
file, line, YAML path (``streams[1].cursor``), and for unknown keys or choices the valid
values with a did-you-mean.

The same validation runs for ``hrss-hub run`` and when Airflow parses the DAG folder
(:mod:`hrss_hub.airflow.spec`): this module imports no pyarrow, SQLAlchemy or connector
class for the built-in kinds. The runtime :class:`SystemConfig` (in ``base``, which needs
pyarrow) is only built by :func:`load_system`.

Defaults that the workspace decides (hub.yaml's ``batch_size`` and ``threshold``) are
applied here, so every connector gets them unless its file says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import ConfigDict, Field, field_validator

from hrss_hub.config.hub import DEFAULT_BATCH_SIZE, workspace_sqlite
from hrss_hub.config.model import FileModel, Name, NonNegativeInt, PositiveInt, fail
from hrss_hub.config.problems import ConfigProblems, Problem, did_you_mean
from hrss_hub.config.thresholds import Threshold
from hrss_hub.config.validation import validate_doc
from hrss_hub.config.yamldoc import YamlDoc, read_yaml
from hrss_hub.connectors.options import BUILTIN_OPTIONS, KindOptions, StreamBase, declared_options
from hrss_hub.errors import ConfigError

if TYPE_CHECKING:
    from hrss_hub.config.hub import HubConfig
    from hrss_hub.connectors.base import SystemConfig

C = TypeVar("C", bound=FileModel)
S = TypeVar("S", bound=StreamBase)

#: Airflow task retries when the file does not say
DEFAULT_RETRIES = 2
DEFAULT_RETRY_DELAY_SECONDS = 60
DEFAULT_OWNER = "hrss-hub"


class SystemFile(FileModel, Generic[C, S]):
    """The keys of one connector file, for a kind's connection model ``C`` and stream ``S``."""

    system: Name | None = None
    title: str = ""
    kind: Name
    connection: C = Field(default_factory=dict, validate_default=True)
    batch_size: PositiveInt | None = None
    schedule: Name | None = None
    retries: NonNegativeInt = DEFAULT_RETRIES
    retry_delay_seconds: NonNegativeInt = DEFAULT_RETRY_DELAY_SECONDS
    owner: Name = DEFAULT_OWNER
    tags: tuple[Name, ...] = ()
    streams: list[S] = Field(default_factory=list, validate_default=True)

    @field_validator("streams")
    @classmethod
    def _some_streams(cls, value: list[S]) -> list[S]:
        if not value:
            raise fail("streams must be a non-empty list", "streams: [{name: AC01, …}]")
        return value


class _AnyConnection(FileModel):
    """Connection keys of a file whose kind is unknown: not checked."""

    model_config = ConfigDict(extra="allow")


class _AnyStream(StreamBase):
    """A stream of a file whose kind is unknown: common keys checked, the rest not."""

    model_config = ConfigDict(extra="allow")


_UNKNOWN = KindOptions("?", _AnyConnection, _AnyStream)


@dataclass(frozen=True)
class ValidSystem:
    """A validated connector file: its model and what follows from it."""

    file: Path
    model: SystemFile[Any, Any]
    doc: YamlDoc

    @property
    def system(self) -> str:
        """The system name (``system:``, or the file name without ``.yaml``)."""
        return self.model.system or self.file.stem

    @property
    def kind(self) -> str:
        """The connector kind."""
        return self.model.kind


def kind_options(kind: str, **context: Any) -> KindOptions:
    """The option models of ``kind``: built-in kinds without importing them, other kinds
    (registered in code or by entry point) from their class."""
    if kind in BUILTIN_OPTIONS:
        return BUILTIN_OPTIONS[kind]
    from hrss_hub.connectors.registry import kind_class

    return declared_options(kind_class(kind, **context))


def _kind_problem(doc: YamlDoc, file: Path) -> tuple[KindOptions, Problem | None]:
    data = doc.data if isinstance(doc.data, dict) else {}
    kind = data.get("kind")
    if kind is None or not isinstance(kind, str | int) or isinstance(kind, bool):
        return _UNKNOWN, None  # "kind is required" / "must be text" come from the model
    try:
        return kind_options(str(kind)), None
    except ConfigError:
        from hrss_hub.connectors.registry import kinds

        valid = sorted({*BUILTIN_OPTIONS, *kinds()})
        return _UNKNOWN, Problem(str(file), doc.line(("kind",)), "kind",
                                 f"unknown connector kind {str(kind)!r}",
                                 did_you_mean(str(kind), valid))


def validate_system_doc(doc: YamlDoc) -> ValidSystem:
    """Validate a parsed connector file; raise every problem of it together."""
    file = doc.file
    system = doc.data.get("system") if isinstance(doc.data, dict) else None
    system_name = str(system) if system else file.stem
    if not isinstance(doc.data, dict):
        raise ConfigProblems.of(Problem(
            str(file), doc.line(()), "", "a connector file must be a mapping (system, kind, "
            "connection, streams)", system=system_name))
    options, kind_problem = _kind_problem(doc, file)
    model_cls = SystemFile[options.connection, options.stream]  # type: ignore[name-defined]
    problems: list[Problem] = [kind_problem] if kind_problem else []
    problems.extend(_duplicate_streams(doc, system_name))
    try:
        model = validate_doc(model_cls, doc, system=system_name)
    except ConfigProblems as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigProblems.collect(sorted(problems, key=lambda p: p.line or 0))
    return ValidSystem(file, model, doc)


def _duplicate_streams(doc: YamlDoc, system: str) -> list[Problem]:
    # checked on the document, not in the model: a stream with other problems still counts
    streams = doc.data.get("streams") if isinstance(doc.data, dict) else None
    first: dict[str, int] = {}
    out = []
    for i, item in enumerate(streams if isinstance(streams, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if name is None:
            continue
        if str(name) in first:
            out.append(Problem(str(doc.file), doc.line(("streams", i, "name")),
                               f"streams[{i}].name", f"duplicate stream name {str(name)!r}",
                               f"also streams[{first[str(name)]}]", system))
        first.setdefault(str(name), i)
    return out


def validate_system_file(path: Path) -> ValidSystem:
    """Read and validate one connector file (no connector class is imported for the
    built-in kinds); raises :class:`ConfigProblems` with every problem of the file."""
    return validate_system_doc(read_yaml(Path(path), "connector file"))


def to_system_config(valid: ValidSystem, workspace: Path, *, batch_size: int | None = None,
                     threshold: Threshold | None = None) -> SystemConfig:
    """The runtime :class:`SystemConfig` of a validated file; ``batch_size`` and
    ``threshold`` are the workspace defaults (hub.yaml) for what the file leaves unset."""
    from hrss_hub.connectors.base import StreamConfig, SystemConfig

    model = valid.model
    raw = valid.doc.data
    streams = []
    for i, stream in enumerate(model.streams):
        written = raw["streams"][i] if isinstance(raw, dict) else {}
        streams.append(StreamConfig(
            name=stream.name,
            primary_key=list(stream.primary_key),
            cursor=stream.cursor,
            updated_at=stream.updated_at,
            drift=stream.drift,
            threshold=stream.threshold.over(threshold or Threshold()).as_dict(),
            # the mapping as written: the compiler parses it (its shape is valid already)
            mapping=written.get("mapping") if isinstance(written, dict) else None,
            options=stream.kind_options(),
        ))
    connection = model.connection.model_dump(mode="json", exclude_unset=True, by_alias=True,
                                             serialize_as_any=True)
    if isinstance(connection.get("url"), str):
        connection["url"] = workspace_sqlite(connection["url"], workspace)
    cfg = SystemConfig(
        system=valid.system,
        kind=model.kind,
        connection=connection,
        streams=streams,
        source_file=valid.file,
        workspace=workspace,
        title=model.title,
        batch_size=model.batch_size or batch_size or DEFAULT_BATCH_SIZE,
        schedule=model.schedule,
        retries=model.retries,
        retry_delay_seconds=model.retry_delay_seconds,
        owner=model.owner,
        tags=list(model.tags),
    )
    if model.kind not in BUILTIN_OPTIONS:
        # a kind from a plugin may check more than its models say
        from hrss_hub.connectors.registry import kind_class

        validate = getattr(kind_class(model.kind), "validate_config", None)
        if validate is not None:
            validate(cfg)
    return cfg


def parse_system(raw: Any, path: Path, workspace: Path) -> SystemConfig:
    """Validate one connector document given as data (``raw``, as if read from ``path``;
    problems then have no line numbers)."""
    doc = YamlDoc(file=Path(path), data=raw)
    return to_system_config(validate_system_doc(doc), Path(workspace))


def load_system(path: Path, workspace: Path, *, hub: HubConfig | None = None) -> SystemConfig:
    """Load and validate one ``connectors/<system>.yaml`` (``hub``: its workspace, whose
    ``batch_size`` and ``threshold`` are the defaults)."""
    valid = validate_system_file(Path(path))
    return to_system_config(valid, Path(workspace), **_defaults(hub))


def _defaults(hub: HubConfig | None) -> dict[str, Any]:
    if hub is None:
        return {}
    return {"batch_size": hub.batch_size, "threshold": hub.threshold}


def connector_files(connectors_dir: Path) -> list[Path]:
    """The connector files of a folder (``*.yaml`` and ``*.yml``), sorted by name."""
    folder = Path(connectors_dir)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_systems(connectors_dir: Path, workspace: Path, *,
                 hub: HubConfig | None = None) -> dict[str, SystemConfig]:
    """Every connector file in ``connectors_dir``, by system name (sorted).

    Every problem of every file is raised together; two files defining one system is a
    problem of the second.
    """
    folder = Path(connectors_dir)
    if not folder.is_dir():
        raise ConfigError("connectors folder not found", {"path": str(folder)},
                          "create it and put one <system>.yaml per source system in it")
    problems: list[Problem] = []
    systems: dict[str, SystemConfig] = {}
    for file in connector_files(folder):
        try:
            cfg = load_system(file, workspace, hub=hub)
        except ConfigProblems as exc:
            problems.extend(exc.problems)
            continue
        if cfg.system in systems:
            problems.append(Problem(str(file), None, "system",
                                    f"system {cfg.system!r} is defined twice",
                                    f"also defined in {systems[cfg.system].source_file}",
                                    cfg.system))
            continue
        systems[cfg.system] = cfg
    if problems:
        raise ConfigProblems.collect(problems)
    return dict(sorted(systems.items()))


def load_workspace_systems(hub: HubConfig) -> dict[str, SystemConfig]:
    """Every connector file of a workspace, with the workspace's defaults applied."""
    assert hub.connectors_dir is not None
    return load_systems(hub.connectors_dir, hub.root, hub=hub)


def system_files_by_name(connectors_dir: Path) -> Mapping[str, Path]:
    """System name → file, from the files' ``system:`` keys (or names), without validating."""
    out: dict[str, Path] = {}
    for file in connector_files(connectors_dir):
        try:
            doc = read_yaml(file, "connector file")
        except ConfigProblems:
            continue
        name = doc.data.get("system") if isinstance(doc.data, dict) else None
        out.setdefault(str(name or file.stem), file)
    return out

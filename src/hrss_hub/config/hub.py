"""The workspace: ``hub.yaml``, the folders it points to, and every setting's final value.

A workspace is a folder holding ``hub.yaml``. Every path in it is relative to that folder.
The file must say which hub this is — its administrative ``level`` and ``division`` — and
may set anything else; what it does not set has a documented default
(``docs/configuration.md``). :func:`load_config` reads the file (every problem at once, with
line and YAML path), applies environment variables and command-line flags with the
precedence of :mod:`hrss_hub.config.env`, and returns one immutable :class:`HubConfig`.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, field_validator

from hrss_hub.config import env, levels
from hrss_hub.config.bundled import bundled_standards_dir
from hrss_hub.config.model import FileModel, Name, NameList, NonNegativeInt, PositiveInt, fail
from hrss_hub.config.problems import ConfigProblems, Problem
from hrss_hub.config.sections import DuckdbSection, MasterSection, ShareSection, written
from hrss_hub.config.thresholds import Threshold
from hrss_hub.config.validation import validate_doc
from hrss_hub.config.yamldoc import read_yaml
from hrss_hub.errors import ConfigError

#: rows per Arrow batch a connector reads, unless hub.yaml or the connector file says otherwise
DEFAULT_BATCH_SIZE = 10_000
#: rows per stream that Great Expectations validates by default (``gx_rows``)
DEFAULT_GX_ROWS = 50_000
#: signature suites of manifests: Ed25519, or SM2 with SM3 digests (商用密码)
SIGNATURE_SUITES = ("ed25519", "sm2")
#: placeholders an ``airflow_queue`` template may use
QUEUE_FIELDS = frozenset({"system", "level", "division", "hub_id"})

LEVEL_HINT = ("every hub.yaml says which hub it is: level: county (县/县级市/区; district is "
              "the same tier), city or province, and division: the six-digit GB/T 2260 code, "
              "e.g. level: county and division: \"510107\"")


def _gx_rows(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "all":
        return None
    return value


class HubFile(FileModel):
    """The keys of ``hub.yaml`` as written (paths still relative to its folder)."""

    hub_id: Name = "hrss-hub"
    """This hub's name in manifests, the ledger and the audit log."""
    level: Annotated[Literal["county", "district", "city", "province"] | None,
                     BeforeValidator(levels.canonical_level)] = Field(
        default=None, validate_default=True)
    """Administrative tier of this hub (required): county (县, 县级市 and 市辖区 are one tier;
    district is the same tier), city (地级) or province (省级); the units' names (县, 县级市,
    区, 地级市, 自治州, 省 …) are accepted too.
    """
    division: str | None = Field(default=None, validate_default=True)
    """Six-digit GB/T 2260 code fitting the level (required): county tier 510107, city 510100,
    province 510000.
    """
    standard: str | None = None
    """A standards/ folder or one version folder (standards/v1); unset: the bundled standard."""
    connectors: str = "connectors"
    """Folder of connector files, one source system each."""
    expectations: str = "expectations"
    """Folder of Great Expectations suites; when it holds none, the bundled suites are used."""
    sharing: str = "sharing"
    """Folder of sharing agreements, one recipient each."""
    ledger_url: str | None = None
    """SQLAlchemy URL of the ledger; unset: sqlite:///<state_dir>/ledger.db. A URL with a password
    is refused (use HRSS_HUB_LEDGER_URL).
    """
    exchange_root: str = "exchange"
    """Local folder of staged files and, by default, the published exchange."""
    exchange_uri: str | None = None
    """Where datasets are published and read back: a folder or s3://bucket/prefix; unset:
    exchange_root.
    """
    outbox_uri: str | None = None
    """Where recipients' outboxes are written: a folder or s3://…; unset:
    <exchange_root>/../outbox.
    """
    quarantine_dir: str = "quarantine"
    """Folder of quarantined rows."""
    reports_dir: str = "reports"
    """Folder of quality reports and Data Docs."""
    state_dir: str = ".hrss-hub"
    """The hub's own state (SQLite ledger, generated keys)."""
    pseudonym_keys_dir: str | None = None
    """Recipients' pseudonym keys, one <recipient>.key each (keep it apart from data); unset:
    <state_dir>/pseudonym-keys.
    """
    batch_size: PositiveInt = DEFAULT_BATCH_SIZE
    """Rows per Arrow batch, the default of every connector whose file sets none."""
    keep_versions: PositiveInt = 10
    """Dataset versions kept."""
    signing_key: str | None = None
    """PEM file of the manifest signing key; unset: <state_dir>/signing_key.pem, created once."""
    signature_suite: Literal["ed25519", "sm2"] = Field(default="ed25519", title="signature suite")
    """Manifest signatures: ed25519, or sm2 (SM2 signatures with SM3 digests, 商用密码)."""
    source_precedence: NameList = ()
    """Systems whose record wins when two systems hold one key, earliest first; unlisted systems
    follow, by name.
    """
    parallel: PositiveInt | None = None
    """Streams `hrss-hub run` runs at once (`--parallel` overrides; 1: one after the other);
    unset: half the cores, at most 4.
    """
    gx: bool = True
    """Run Great Expectations (the Arrow row gate checks every row either way)."""
    gx_rows: Annotated[NonNegativeInt | None, BeforeValidator(_gx_rows)] = DEFAULT_GX_ROWS
    """Rows per stream Great Expectations validates, or all."""
    threshold: Threshold = Threshold()
    """Default quality threshold of every stream; a stream's own threshold: overrides it key by
    key.
    """
    airflow_queue: str | None = None
    """Celery queue of every task, a template over {system}, {level}, {division}, {hub_id}; unset:
    Airflow's default queue.
    """
    supervision: str | None = None
    """Folder of supervision checks (one YAML each); unset: supervision/ if the workspace has one,
    else the checks shipped with hrss-hub.
    """
    share: ShareSection = Field(default_factory=ShareSection)
    """The Delta Sharing server (`hrss-hub share serve`)."""
    master: MasterSection = Field(default_factory=MasterSection)
    """Person master: survivorship and record-linkage thresholds."""
    duckdb: DuckdbSection = Field(default_factory=DuckdbSection)
    """Limits of the DuckDB queries of the master and the supervision checks."""

    @field_validator("level")
    @classmethod
    def _level_given(cls, value: str | None) -> str | None:
        if value is None:
            raise fail("level is required", LEVEL_HINT)
        return value

    @field_validator("division")
    @classmethod
    def _division_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            raise fail("division is required", LEVEL_HINT)
        # with a valid level, the code must fit it; otherwise only its form is checked
        problem = levels.division_problem(info.data.get("level") or "", value)
        if problem:
            raise fail(problem, LEVEL_HINT)
        return value

    @field_validator("ledger_url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value and _has_password(value):
            raise fail("ledger_url contains a password",
                       f"set {env.LEDGER_URL.name} instead: secrets never go in hub.yaml")
        return value

    @field_validator("airflow_queue")
    @classmethod
    def _queue_template(cls, value: str | None) -> str | None:
        if value is not None:
            check_queue_template(value)
        return value


def check_queue_template(template: str) -> None:
    """Refuse a queue template with placeholders other than :data:`QUEUE_FIELDS`."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as exc:
        raise fail(f"not a valid queue template: {exc}",
                   "e.g. hrss_{system} or hrss_{level}") from None
    unknown = names - QUEUE_FIELDS
    if unknown:
        raise fail(f"unknown placeholder {{{sorted(unknown)[0]}}} in the queue template",
                   "valid: " + ", ".join("{" + f + "}" for f in sorted(QUEUE_FIELDS)))


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


@dataclass(frozen=True)
class HubConfig:
    """Resolved settings of one workspace (all paths absolute; immutable — derive a variant
    with ``dataclasses.replace``).

    Built by :func:`load_config` from a hub.yaml, which must say its level and division.
    Tests and tools may build one directly: ``division`` is required there too, ``level``
    defaults to the county tier, the folders to the usual names under ``root``.
    """

    root: Path
    division: str
    level: str = "county"
    hub_id: str = "hrss-hub"
    standard_dir: Path = field(default_factory=bundled_standards_dir)
    connectors_dir: Path | None = None
    expectations_dir: Path | None = None
    sharing_dir: Path | None = None
    ledger_url: str = ""
    exchange_root: Path | None = None
    quarantine_dir: Path | None = None
    reports_dir: Path | None = None
    state_dir: Path | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    keep_versions: int = 10
    #: a PEM file path, or PEM text from ``HRSS_HUB_SIGNING_KEY`` (never printed)
    signing_key: str | None = field(default=None, repr=False)
    source_file: Path | None = None
    #: where datasets are published (a folder or ``s3://…``); default: ``exchange_root``
    exchange_uri: str = ""
    #: where recipients' outboxes are written; default: ``<exchange_root>/../outbox``
    outbox_uri: str = ""
    pseudonym_keys_dir: Path | None = None
    signature_suite: str = "ed25519"
    #: systems whose records win a conflict, earliest first (then unlisted ones by name)
    source_precedence: tuple[str, ...] = ()
    #: streams run at once by ``hrss-hub run`` (``None``: half the cores, at most 4; see
    #: :func:`hrss_hub.run.parallel.worker_count`)
    parallel: int | None = None
    gx: bool = True
    #: rows per stream Great Expectations validates (``None``: all)
    gx_rows: int | None = DEFAULT_GX_ROWS
    #: the default threshold of every stream
    threshold: Threshold = field(default_factory=Threshold)
    airflow_queue: str | None = None
    #: supervision checks (one YAML each): the workspace's supervision/ if it has one,
    #: else the checks shipped with hrss-hub
    supervision_dir: Path | None = None
    #: the hub.yaml sections of the hub's services, as written (see config.sections)
    share: Mapping[str, Any] = field(default_factory=dict)
    master: Mapping[str, Any] = field(default_factory=dict)
    duckdb: Mapping[str, Any] = field(default_factory=dict)
    #: where each setting's value came from: ``default``, ``hub.yaml``, an env var, ``cli``
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", levels.canonical_level(self.level))
        if self.level not in levels.LEVELS:
            from hrss_hub.errors import unknown_choice

            raise unknown_choice("level", str(self.level), levels.LEVELS)
        problem = levels.division_problem(self.level, self.division)
        if problem:
            raise ConfigError(problem, {"level": self.level, "division": self.division},
                              LEVEL_HINT)
        r = self.root
        defaults: dict[str, Any] = {
            "connectors_dir": r / "connectors", "expectations_dir": r / "expectations",
            "sharing_dir": r / "sharing", "exchange_root": r / "exchange",
            "quarantine_dir": r / "quarantine", "reports_dir": r / "reports",
            "state_dir": r / ".hrss-hub"}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        assert self.state_dir is not None and self.exchange_root is not None
        if not self.ledger_url:
            object.__setattr__(self, "ledger_url", f"sqlite:///{self.state_dir / 'ledger.db'}")
        if not self.exchange_uri:
            object.__setattr__(self, "exchange_uri", str(self.exchange_root))
        if not self.outbox_uri:
            object.__setattr__(self, "outbox_uri", str(self.exchange_root.parent / "outbox"))
        if self.pseudonym_keys_dir is None:
            object.__setattr__(self, "pseudonym_keys_dir", self.state_dir / "pseudonym-keys")
        if self.supervision_dir is None:
            object.__setattr__(self, "supervision_dir", _default_supervision(r))

    @property
    def tier(self) -> str:
        """``county``, ``city`` or ``province`` (``district`` is the county tier)."""
        return levels.tier(self.level)

    def source_rank(self, system: str) -> tuple[int, str]:
        """Sort key of ``system`` by ``source_precedence``: listed systems first, in their
        order; unlisted ones after them, by name. Lower wins."""
        try:
            return self.source_precedence.index(system), ""
        except ValueError:
            return len(self.source_precedence), system


def _default_supervision(root: Path) -> Path:
    own = root / "supervision"
    if own.is_dir():
        return own
    from hrss_hub.config.bundled import shipped_supervision_dir

    return shipped_supervision_dir() or own


# -- loading -------------------------------------------------------------------------------

def find_config(path: str | Path | None = None,
                environ: Mapping[str, str] | None = None) -> Path:
    """The workspace file to use: ``path`` (``--config``) > ``HRSS_HUB_CONFIG`` >
    ``./hub.yaml``. A folder means its ``hub.yaml``. Raises when there is none."""
    origin = "--config"
    if path is None:
        from_env = env.CONFIG.read(environ)
        if from_env:
            path, origin = from_env, env.CONFIG.name
    if path is None:
        candidate = Path.cwd() / "hub.yaml"
        if candidate.is_file():
            return candidate
        raise ConfigError(f"no workspace here: {Path.cwd()} has no hub.yaml", {},
                          "run the command inside a workspace, pass --config PATH/hub.yaml or "
                          f"set {env.CONFIG.name}; `hrss-hub demo init --dir DIR` writes an "
                          "example workspace")
    file = Path(path).expanduser().resolve()
    if file.is_dir():
        file = file / "hub.yaml"
    if not file.is_file():
        raise ConfigError("workspace file not found", {"file": str(file), "from": origin},
                          "pass --config PATH to an existing hub.yaml (with level and "
                          "division), or create one")
    return file


def load_config(path: str | Path | None = None, *,
                overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> HubConfig:
    """Load a workspace: ``hub.yaml`` (see :func:`find_config`), then environment variables,
    then ``overrides`` (command-line flags, keyed by hub.yaml setting name).

    Every problem of the file is raised at once as :class:`ConfigProblems` (exit 2 in the CLI).
    """
    file = find_config(path, environ)
    model = validate_doc(HubFile, read_yaml(file, "workspace file"))
    return resolve(model, file, overrides=overrides, environ=environ)


def resolve(model: HubFile, file: Path, *, overrides: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None) -> HubConfig:
    """The :class:`HubConfig` of a validated ``hub.yaml`` (``file``) after environment
    variables and ``overrides`` (precedence: overrides > environment > file > default)."""
    root = file.parent
    written_keys = model.model_fields_set
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}

    def put(name: str, value: Any, origin: str) -> None:
        values[name] = value
        origins[name] = origin

    def from_file(key: str, value: Any) -> None:
        put(key, value, "hub.yaml" if key in written_keys else "default")

    def in_root(text: str) -> Path:
        return (root / Path(text).expanduser()).resolve()

    for key in ("hub_id", "level", "division", "batch_size", "keep_versions",
                "signature_suite", "source_precedence", "parallel", "gx", "gx_rows",
                "threshold", "airflow_queue"):
        from_file(key, getattr(model, key))
    for key, target in (("connectors", "connectors_dir"), ("expectations", "expectations_dir"),
                        ("sharing", "sharing_dir"), ("exchange_root", "exchange_root"),
                        ("quarantine_dir", "quarantine_dir"), ("reports_dir", "reports_dir"),
                        ("state_dir", "state_dir")):
        put(target, in_root(getattr(model, key)),
            "hub.yaml" if key in written_keys else "default")
    if model.pseudonym_keys_dir is not None:
        put("pseudonym_keys_dir", in_root(model.pseudonym_keys_dir), "hub.yaml")
    if model.supervision is not None:
        put("supervision_dir", in_root(model.supervision), "hub.yaml")
    for key, section, paths in (("share", model.share, ("tls_cert", "tls_key")),
                                ("master", model.master, ()),
                                ("duckdb", model.duckdb, ("temp_directory",))):
        keys = written(section)
        for name in paths:
            if keys.get(name):
                keys[name] = str(in_root(keys[name]))
        put(key, keys, "hub.yaml" if key in written_keys else "default")
    if model.standard is not None:
        put("standard_dir", in_root(model.standard), "hub.yaml")
    if model.ledger_url:
        put("ledger_url", workspace_sqlite(model.ledger_url, root), "hub.yaml")
    if model.signing_key:
        put("signing_key", str(in_root(model.signing_key)), "hub.yaml")
    for key in ("exchange_uri", "outbox_uri"):
        value = getattr(model, key)
        if value:
            put(key, value if "://" in value else str(in_root(value)), "hub.yaml")

    _apply_environment(put, environ)
    fields = {f.name for f in dataclasses.fields(HubConfig)}
    for key, value in (overrides or {}).items():
        target = _OVERRIDE_TARGETS.get(key, key)
        if target not in fields or target in ("root", "source_file", "origins"):
            raise TypeError(f"load_config: {key!r} is not a setting a flag can override")
        if value is not None:
            put(target, value, "cli")
    values = _finish(values)
    return HubConfig(root=root, source_file=file, origins=origins, **values)


#: command-line override key → HubConfig field (where the names differ)
_OVERRIDE_TARGETS = {"standard": "standard_dir", "connectors": "connectors_dir",
                     "expectations": "expectations_dir", "sharing": "sharing_dir"}


def _apply_environment(put: Any, environ: Mapping[str, str] | None) -> None:
    def cwd_path(text: str) -> Path:
        return Path(text).expanduser().resolve()

    value = env.LEDGER_URL.read(environ)
    if value:
        put("ledger_url", value.strip(), env.LEDGER_URL.name)
    value = env.SIGNING_KEY.read(environ)
    if value:
        pem = value.lstrip().startswith("-----BEGIN")
        put("signing_key", value if pem else str(cwd_path(value)), env.SIGNING_KEY.name)
    for var, key in ((env.EXCHANGE_URI, "exchange_uri"), (env.OUTBOX_URI, "outbox_uri")):
        value = var.read(environ)
        if value:
            text = value.strip()
            put(key, text if "://" in text else str(cwd_path(text)), var.name)
    value = env.STANDARDS.read(environ)
    if value:
        put("standard_dir", cwd_path(value.strip()), env.STANDARDS.name)
    value = env.SUPERVISION.read(environ)
    if value:
        put("supervision_dir", cwd_path(value.strip()), env.SUPERVISION.name)
    value = env.GX.read(environ)
    if value is not None:
        put("gx", _env_bool(env.GX, value), env.GX.name)
    value = env.GX_ROWS.read(environ)
    if value is not None:
        put("gx_rows", _env_rows(value), env.GX_ROWS.name)
    value = env.SHARE_ENDPOINT.read(environ)
    if value is not None:
        try:
            ShareSection.model_validate({"endpoint": value.strip()})
        except ValidationError as exc:
            raise ConfigError(f"{env.SHARE_ENDPOINT.name}: "
                              f"{exc.errors()[0]['msg'].removeprefix('Value error, ')}",
                              {"env": env.SHARE_ENDPOINT.name}) from None
        put("share_endpoint", value.strip(), env.SHARE_ENDPOINT.name)
    value = env.AIRFLOW_QUEUE.read(environ)
    if value is not None:
        try:
            check_queue_template(value)
        except Exception as exc:  # noqa: BLE001 - a PydanticCustomError, reported as ours
            raise ConfigError(f"{env.AIRFLOW_QUEUE.name}: {exc}",
                              {"env": env.AIRFLOW_QUEUE.name}) from None
        put("airflow_queue", value, env.AIRFLOW_QUEUE.name)


def _env_bool(var: env.EnvVar, value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{var.name} must be 0 or 1, got {value!r}", {"env": var.name})


def _env_rows(value: str) -> int | None:
    text = value.strip().lower()
    if text == "all":
        return None
    try:
        rows = int(text)
    except ValueError:
        rows = -1
    if rows < 0:
        raise ConfigError(f"{env.GX_ROWS.name} must be a number or 'all', got {value!r}",
                          {"env": env.GX_ROWS.name})
    return rows


def _finish(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "standard_dir" in out:
        out["standard_dir"] = Path(out["standard_dir"])
    endpoint = out.pop("share_endpoint", None)
    if endpoint is not None:  # HRSS_HUB_SHARE_ENDPOINT: one key of the share section
        out["share"] = {**out.get("share", {}), "endpoint": endpoint}
    return out


def workspace_sqlite(url: str, root: Path) -> str:
    """``url`` with a relative SQLite path made relative to the workspace ``root`` (not the
    process's current folder); other URLs unchanged."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((root / url[len(prefix):]).resolve())
    return url


def hub_problem(cfg: HubConfig, loc: tuple[str | int, ...], message: str,
                hint: str | None = None) -> Problem:
    """A problem at ``loc`` of the workspace's hub.yaml (with its line when known)."""
    from hrss_hub.config.yamldoc import format_loc

    line = None
    if cfg.source_file is not None and cfg.source_file.is_file():
        try:
            line = read_yaml(cfg.source_file, "workspace file").line(loc)
        except ConfigProblems:
            line = None
    return Problem(str(cfg.source_file or cfg.root / "hub.yaml"), line, format_loc(loc),
                   message, hint)

"""Connector kinds by name: ``kind: sql`` in a YAML file → the class that implements it.

Two sources of kinds:

* the built-ins (``sql``, ``files``, ``rest``), imported lazily on first lookup, so
  importing the registry costs nothing; a built-in module registers its class with the
  :func:`register_kind` decorator at import time;
* installed packages, through the entry-point group ``hrss_hub.connectors``
  (``mykind = my_package.module:MyConnector``), loaded only when a YAML file asks for
  that kind. A built-in name cannot be taken over by a plugin.

Every registered kind must have a source in the connector contract suite
(``tests/contract``; plugins add one through ``hrss_hub.contract_sources``), and the suite
fails for a kind that has none.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from hrss_hub.connectors.base import Connector, ConnectorKind, SystemConfig
from hrss_hub.errors import ConfigError, unknown_choice

#: entry-point group through which installed packages add connector kinds
ENTRY_POINT_GROUP = "hrss_hub.connectors"

#: kind name → module that registers it on import
BUILTIN_KINDS: dict[str, str] = {
    "sql": "hrss_hub.connectors.sql",
    "files": "hrss_hub.connectors.files",
    "rest": "hrss_hub.connectors.rest",
}

_REGISTRY: dict[str, type[ConnectorKind]] = {}
_loaded = False
_LOADING = threading.RLock()

K = TypeVar("K", bound=type[ConnectorKind])


def register_kind(cls: K) -> K:
    """Class decorator: make ``cls`` available as ``kind: <cls.kind>``."""
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    # streams of a parallel run create their connectors from several threads: none may
    # see the flag set before every built-in kind is registered
    with _LOADING:
        if _loaded:
            return
        for module_name in BUILTIN_KINDS.values():
            try:
                importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:  # a real missing dependency must not be hidden
                    raise
        _loaded = True


def plugin_entry_points() -> dict[str, EntryPoint]:
    """Kinds offered by installed packages (entry points), by name; built-ins excluded."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)
            if ep.name not in BUILTIN_KINDS}


def kinds() -> list[str]:
    """Names of every registered kind (built-in, decorated or from an entry point), sorted."""
    _load_builtins()
    return sorted(set(_REGISTRY) | set(plugin_entry_points()))


def _load_plugin(ep: EntryPoint, **context: object) -> type[ConnectorKind]:
    where = f"entry point {ep.name} = {ep.value}" + (
        f" of {ep.dist.name} {ep.dist.version}" if ep.dist is not None else "")
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is its fault
        raise ConfigError(f"connector kind {ep.name!r} cannot be loaded "
                          f"({type(exc).__name__}: {exc})", {**context, "plugin": where},
                          "reinstall the package that provides it, or fix its entry point"
                          ) from None
    if not (isinstance(cls, type) and issubclass(cls, ConnectorKind)):
        raise ConfigError(f"connector kind {ep.name!r} is not a ConnectorKind subclass",
                          {**context, "plugin": where},
                          "the entry point must name a class derived from "
                          "hrss_hub.connectors.ConnectorKind")
    if getattr(cls, "kind", ep.name) != ep.name:
        raise ConfigError(f"connector kind {ep.name!r} names a class whose kind is "
                          f"{cls.kind!r}", {**context, "plugin": where},
                          "the entry point's name and the class's kind must agree")
    cls.kind = ep.name
    _REGISTRY[ep.name] = cls
    return cls


def kind_class(kind: str, **context: object) -> type[ConnectorKind]:
    """The class registered for ``kind``; a ``ConfigError`` listing valid kinds otherwise."""
    _load_builtins()
    if kind in _REGISTRY:
        return _REGISTRY[kind]
    plugin = plugin_entry_points().get(kind)
    if plugin is None:
        raise unknown_choice("connector kind", kind, kinds(), **context)
    return _load_plugin(plugin, **context)


def create_connector(cfg: SystemConfig) -> Connector:
    """Build the connector for one parsed system config (no I/O happens here)."""
    cls = kind_class(cfg.kind, system=cfg.system, file=str(cfg.source_file), path="kind")
    connector = cls(cfg)
    if not isinstance(connector, Connector):
        raise ConfigError(f"connector kind {cfg.kind!r} ({cls.__module__}.{cls.__name__}) "
                          "does not implement check, discover and read",
                          {"system": cfg.system, "file": str(cfg.source_file)})
    return connector

"""Connector kinds by name: ``kind: sql`` in a YAML file → the class that implements it.

Built-in kinds are imported lazily on first lookup, so importing the registry costs nothing
and a kind whose module is not present (yet) is simply absent from :func:`kinds`.
A kind module registers itself with the :func:`register_kind` decorator at import time.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from hrss_hub.connectors.base import Connector, ConnectorKind, SystemConfig
from hrss_hub.errors import unknown_choice

#: kind name → module that registers it on import
BUILTIN_KINDS: dict[str, str] = {
    "sql": "hrss_hub.connectors.sql",
    "files": "hrss_hub.connectors.files",
    "rest": "hrss_hub.connectors.rest",
}

_REGISTRY: dict[str, type[ConnectorKind]] = {}
_loaded = False

K = TypeVar("K", bound=type[ConnectorKind])


def register_kind(cls: K) -> K:
    """Class decorator: make ``cls`` available as ``kind: <cls.kind>``."""
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module_name in BUILTIN_KINDS.values():
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a real missing dependency must not be hidden
                raise


def kinds() -> list[str]:
    """Names of every registered kind, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def kind_class(kind: str, **context: object) -> type[ConnectorKind]:
    """The class registered for ``kind``; a ``ConfigError`` listing valid kinds otherwise."""
    _load_builtins()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise unknown_choice("connector kind", kind, _REGISTRY, **context) from None


def create_connector(cfg: SystemConfig) -> Connector:
    """Build the connector for one parsed system config (no I/O happens here)."""
    cls = kind_class(cfg.kind, system=cfg.system, file=str(cfg.source_file), path="kind")
    connector = cls(cfg)
    assert isinstance(connector, Connector), f"{cls.__name__} does not implement Connector"
    return connector

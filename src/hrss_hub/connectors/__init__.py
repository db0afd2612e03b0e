"""Connectors: read source systems (SQL databases, REST APIs, drop folders) as Arrow chunks.

Public API::

    from hrss_hub.connectors import load_systems, create_connector
    systems = load_systems(workspace / "connectors", workspace)
    connector = create_connector(systems["si_core"])
    for chunk in connector.read("AC01", state):
        ...  # chunk.batch, chunk.state, chunk.rejects

Kinds register themselves with :func:`register_kind`; importing this package does no I/O
and imports nothing heavy: the names below are loaded on first use, so that the connector
file models (:mod:`.config`, :mod:`.options`) can be used without pyarrow (the Airflow
DAG parser does).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hrss_hub.connectors.base import (
        LOCATION_COLUMN,
        Chunk,
        Connector,
        ConnectorKind,
        Reject,
        State,
        StreamConfig,
        SystemConfig,
    )
    from hrss_hub.connectors.config import load_system, load_systems, parse_system
    from hrss_hub.connectors.registry import create_connector, kinds, register_kind

_API = {
    "LOCATION_COLUMN": "hrss_hub.connectors.base",
    "Chunk": "hrss_hub.connectors.base",
    "Connector": "hrss_hub.connectors.base",
    "ConnectorKind": "hrss_hub.connectors.base",
    "Reject": "hrss_hub.connectors.base",
    "State": "hrss_hub.connectors.base",
    "StreamConfig": "hrss_hub.connectors.base",
    "SystemConfig": "hrss_hub.connectors.base",
    "load_system": "hrss_hub.connectors.config",
    "load_systems": "hrss_hub.connectors.config",
    "parse_system": "hrss_hub.connectors.config",
    "create_connector": "hrss_hub.connectors.registry",
    "kinds": "hrss_hub.connectors.registry",
    "register_kind": "hrss_hub.connectors.registry",
}

__all__ = [
    "LOCATION_COLUMN",
    "Chunk",
    "Connector",
    "ConnectorKind",
    "Reject",
    "State",
    "StreamConfig",
    "SystemConfig",
    "create_connector",
    "kinds",
    "load_system",
    "load_systems",
    "parse_system",
    "register_kind",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'hrss_hub.connectors' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

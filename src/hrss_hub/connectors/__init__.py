"""Connectors: read source systems (SQL databases, REST APIs, drop folders) as Arrow chunks.

Public API::

    from hrss_hub.connectors import load_systems, create_connector
    systems = load_systems(workspace / "connectors", workspace)
    connector = create_connector(systems["si_core"])
    for chunk in connector.read("AC01", state):
        ...  # chunk.batch, chunk.state, chunk.rejects

Kinds register themselves with :func:`register_kind`; importing this package does no I/O
and does not import any database driver.
"""

from __future__ import annotations

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

"""The connector contract: what every kind of source system offers the engine.

A connector is built from one ``connectors/<system>.yaml`` file. It never owns state:
``read`` receives the state the engine stored after the last *published* run, and every
``Chunk`` it yields carries the state *after* that chunk. The engine persists a state only
once the chunk's rows are safely published, so a crash never moves a watermark past data
that was not delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:  # the contract is importable without pyarrow (configuration, DAG parsing)
    import pyarrow as pa

_log = logging.getLogger(__name__)

#: Column added to every batch: where each row came from (file:line, table[key], URL#index).
LOCATION_COLUMN = "_location"

#: JSON-able connector state (watermarks, processed file checksums, page cursors).
State = dict[str, Any]


@dataclass(frozen=True)
class Reject:
    """A raw record the connector could not turn into a row (bad line, undecodable bytes)."""

    location: str
    reason: str
    raw: str = ""


@dataclass
class Chunk:
    """One bounded batch of rows plus the state after it and the records rejected in it."""

    batch: pa.RecordBatch
    state: State
    rejects: list[Reject] = field(default_factory=list)
    #: schema differences met while reading this chunk and accepted under the stream's
    #: ``drift:`` policy (e.g. a file lacking a column), one sentence each: the run summary
    #: must show them
    drift: list[str] = field(default_factory=list)


@dataclass
class StreamConfig:
    """A stream as declared in the YAML: common keys typed, kind-specific keys in ``options``."""

    name: str
    primary_key: list[str] = field(default_factory=list)
    cursor: str | None = None
    drift: str = "fail"
    threshold: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: ``updated_at:`` as written (None: the cursor column is the update time)
    updated_at: str | None = None

    @property
    def updated_at_column(self) -> str | None:
        """The source column holding each record's own update time: ``updated_at:``, else
        the cursor (``cursor:``, or a REST stream's ``incremental.cursor_field``)."""
        if self.updated_at:
            return self.updated_at
        if self.cursor:
            return self.cursor
        incremental = self.options.get("incremental")
        if isinstance(incremental, dict) and incremental.get("cursor_field"):
            return str(incremental["cursor_field"])
        return None


@dataclass
class SystemConfig:
    """One source system: ``connectors/<system>.yaml`` parsed."""

    system: str
    kind: str
    connection: dict[str, Any]
    streams: list[StreamConfig]
    source_file: Path
    workspace: Path
    title: str = ""
    batch_size: int = 10_000
    schedule: str | None = None
    retries: int = 2
    retry_delay_seconds: int = 60
    owner: str = "hrss-hub"
    tags: list[str] = field(default_factory=list)

    def stream(self, name: str) -> StreamConfig:
        """The stream called ``name`` (error listing the valid names otherwise)."""
        for stream in self.streams:
            if stream.name == name:
                return stream
        from hrss_hub.errors import unknown_choice

        raise unknown_choice("stream", name, [s.name for s in self.streams],
                             system=self.system, file=str(self.source_file))


@runtime_checkable
class Connector(Protocol):
    """What the engine needs from a source system."""

    config: SystemConfig

    def check(self) -> None:
        """Verify connectivity and configuration; raise a ``HubError`` that says what to fix."""

    def discover(self) -> Mapping[str, pa.Schema]:
        """Stream name → Arrow schema of the batches ``read`` yields (incl. ``_location``)."""

    def read(self, stream: str, state: State | None = None) -> Iterator[Chunk]:
        """Yield bounded chunks of the stream's rows newer than ``state``."""


@runtime_checkable
class EstimatesRows(Protocol):
    """The contract's optional part: how many rows ``read(stream, state)`` will yield.

    Only progress displays use it (a bar with a total and an ETA), so it must be cheap
    (a ``COUNT(*)`` with a timeout, table statistics, file sizes, one API page) and may
    be approximate. ``None`` means unknown. :class:`ConnectorKind` answers ``None``; a
    connector without the method is treated the same (see :func:`estimate_rows`).
    """

    def estimate_rows(self, stream: str, state: State | None = None) -> int | None:
        """About how many rows (and rejects) ``read(stream, state)`` yields, or ``None``."""


def estimate_rows(connector: object, stream: str, state: State | None = None) -> int | None:
    """``connector.estimate_rows(stream, state)``, never raising: any failure (or a
    connector without the method, or a nonsense answer) is ``None``, unknown."""
    if not isinstance(connector, EstimatesRows):
        return None
    try:
        n = connector.estimate_rows(stream, state)
    except Exception as exc:  # noqa: BLE001 - an estimate must never fail a run
        _log.debug("no row estimate for %s: %s", stream, type(exc).__name__)
        return None
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None


class ConnectorKind:
    """Base for connector kinds: declares the options a kind accepts (for config checks)."""

    kind: ClassVar[str]
    #: keys accepted under ``connection:``
    connection_keys: ClassVar[frozenset[str]] = frozenset()
    #: kind-specific keys accepted on a stream (besides the common ones)
    stream_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: SystemConfig) -> None:
        self.config = config

    def schema(self, stream: str) -> pa.Schema:
        """The Arrow schema of one stream's batches (kinds override this or ``discover``)."""
        raise NotImplementedError

    def discover(self) -> Mapping[str, pa.Schema]:
        """Stream name → Arrow schema, from :meth:`schema` for every configured stream."""
        return {s.name: self.schema(s.name) for s in self.config.streams}

    def estimate_rows(self, stream: str, state: State | None = None) -> int | None:
        """How many rows ``read(stream, state)`` will yield, about: unknown (``None``)
        unless the kind knows a cheap way (see :class:`EstimatesRows`)."""
        return None

    def declared_columns(self, stream: str) -> list[str] | None:
        """The columns of ``stream`` as the YAML declares them, without any I/O, or ``None``
        when only the source knows (``connectors check --no-connect`` uses this)."""
        return None

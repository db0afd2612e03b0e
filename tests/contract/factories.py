"""The registry of contract-suite sources: one factory per connector fixture.

A factory is a generator function ``(request, tmp_path) -> Iterator[Source]``: it creates a
real source with a known set of rows, yields a :class:`Source`, and cleans up afterwards.
Add a kind to the suite by dropping a ``sources_<kind>.py`` next to this file that
decorates factories with :func:`source_factory` — ``conftest.py`` imports every such file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hrss_hub.connectors.base import Connector


@dataclass
class Source:
    """A connector over a real source whose rows the test knows."""

    connector: Connector
    stream: str
    #: columns whose values identify a row (the union of reads is compared on them)
    key: list[str]
    batch_size: int
    #: keys of every row currently in the source
    expected: Callable[[], list[tuple[Any, ...]]]
    #: add ``n`` new rows to the source (new keys)
    append: Callable[[int], None]


SourceFactory = Callable[[pytest.FixtureRequest, Path], Iterator[Source]]

FACTORIES: dict[str, SourceFactory] = {}


def source_factory(name: str) -> Callable[[SourceFactory], SourceFactory]:
    """Register a factory under ``name`` (the pytest id of its parametrization)."""

    def register(fn: SourceFactory) -> SourceFactory:
        assert name not in FACTORIES, f"duplicate contract source {name!r}"
        FACTORIES[name] = fn
        return fn

    return register

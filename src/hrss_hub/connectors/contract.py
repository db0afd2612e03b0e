"""The registry of the connector contract suite's sources (``tests/contract``).

The suite runs the same tests against every *source*: a real system of one connector kind
with rows the test knows. A source comes from a factory, a generator function
``(request, tmp_path) -> Iterator[Source]`` that creates the system, yields a
:class:`Source` and cleans up afterwards. Factories register with :func:`source_factory`,
naming the kind they cover; the suite fails for every registered kind without one.

The hub's own factories are the ``sources_<kind>.py`` files of ``tests/contract``. A
package that adds a connector kind (entry-point group ``hrss_hub.connectors``) adds its
factories through the entry-point group ``hrss_hub.contract_sources``: each entry point
names a module that registers factories when imported::

    [project.entry-points."hrss_hub.contract_sources"]
    mykind = "my_package.contract_sources"

This module is importable without pytest or pyarrow; it holds no test logic.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from hrss_hub.connectors.base import Connector

#: entry-point group of modules that register contract sources for plugin kinds
CONTRACT_ENTRY_POINT_GROUP = "hrss_hub.contract_sources"


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
    #: whether ``estimate_rows`` is exact on this source (the suite then checks it equals
    #: the rows each read yields); otherwise it must be unknown or a non-negative number
    estimate_exact: bool = False


SourceFactory = Callable[["pytest.FixtureRequest", Path], Iterator[Source]]


@dataclass(frozen=True)
class Factory:
    """A registered factory and the connector kind its sources exercise."""

    name: str
    kind: str
    make: SourceFactory


FACTORIES: dict[str, Factory] = {}


def source_factory(name: str, kind: str) -> Callable[[SourceFactory], SourceFactory]:
    """Register a factory under ``name`` (the pytest id) for connector kind ``kind``."""

    def register(fn: SourceFactory) -> SourceFactory:
        if name in FACTORIES:
            raise ValueError(f"duplicate contract source {name!r}")
        FACTORIES[name] = Factory(name, kind, fn)
        return fn

    return register


def load_plugin_sources() -> list[str]:
    """Import every module of the ``hrss_hub.contract_sources`` group; their names."""
    loaded = []
    for ep in entry_points(group=CONTRACT_ENTRY_POINT_GROUP):
        importlib.import_module(ep.value.split(":", 1)[0])
        loaded.append(ep.value)
    return loaded


def kinds_without_source() -> list[str]:
    """Registered connector kinds that no contract source covers."""
    from hrss_hub.connectors.registry import kinds

    covered = {f.kind for f in FACTORIES.values()}
    return [k for k in kinds() if k not in covered]

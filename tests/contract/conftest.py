"""Parametrize the contract suite over every registered source factory.

The registry is :mod:`hrss_hub.connectors.contract`. Each ``sources_*.py`` file in this
folder registers the factories of one built-in connector kind (SQL, files, REST) and is
imported here; so is every module of the ``hrss_hub.contract_sources`` entry-point group
(the sources of connector kinds that installed packages add).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hrss_hub.connectors.contract import FACTORIES, Source, load_plugin_sources

HERE = Path(__file__).parent


def _load(path: Path, name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


for _file in sorted(HERE.glob("sources_*.py")):
    _load(_file, f"hrss_contract_{_file.stem}")
load_plugin_sources()


@pytest.fixture(params=sorted(FACTORIES))
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    """One real source per registered factory, torn down after the test."""
    gen = FACTORIES[request.param].make(request, tmp_path)
    yield next(gen)
    for _ in gen:  # run the factory's cleanup
        pass

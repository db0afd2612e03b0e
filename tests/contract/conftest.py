"""Parametrize the contract suite over every registered source factory.

``factories.py`` holds the registry; each ``sources_*.py`` file in this folder registers
factories for one connector kind (SQL, files, REST, ...) and is imported here.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _load(path: Path, name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_load(HERE / "factories.py", "hrss_contract_factories")
for _file in sorted(HERE.glob("sources_*.py")):
    _load(_file, f"hrss_contract_{_file.stem}")

from hrss_contract_factories import FACTORIES, Source  # type: ignore[import-not-found]  # noqa: E402


@pytest.fixture(params=sorted(FACTORIES))
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    """One real source per registered factory, torn down after the test."""
    gen = FACTORIES[request.param](request, tmp_path)
    yield next(gen)
    for _ in gen:  # run the factory's cleanup
        pass

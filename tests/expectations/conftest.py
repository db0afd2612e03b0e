"""A demo world and a GX context shared by the expectation tests (both are slow to make)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated demo world (300 persons, seed 7)."""
    from hrss_hub.demo.generator import generate_world

    ws = tmp_path_factory.mktemp("demo") / "world"
    generate_world(ws, persons=300, seed=7)
    return ws


@pytest.fixture(scope="session")
def gx_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A file-backed GX context (Data Docs are written under the test's tmp dir)."""
    from hrss_hub.quality import gx

    with gx.file_context(tmp_path_factory.mktemp("gx")) as context:
        yield context

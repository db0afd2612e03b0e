"""Fixtures: one small demo world per session (generation is deterministic, so sharing it
between read-only tests is safe)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hrss_hub.demo.generator import generate_world

PERSONS = 800
SEED = 11


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace that tests must not modify."""
    root = tmp_path_factory.mktemp("demo") / "world"
    generate_world(root, persons=PERSONS, seed=SEED)
    return root

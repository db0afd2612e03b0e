"""Fixtures of the run tests: a small demo world (no REST system, no Great Expectations)
generated once per session and copied per test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# the test modules import run_world by name (like tests/airflow/airflow_ws.py)
sys.path.insert(0, str(Path(__file__).parent))
from run_world import make_world


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pristine world (never run in)."""
    return make_world(tmp_path_factory.mktemp("run-world") / "w")


@pytest.fixture
def world(world_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the world for one test."""
    target = tmp_path / "w"
    shutil.copytree(world_template, target)
    return target

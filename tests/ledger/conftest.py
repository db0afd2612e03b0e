"""Fixtures for the ledger tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hrss_hub.ledger import Ledger


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """A migrated ledger on a fresh SQLite file or PostgreSQL database."""
    led = Ledger.open(ledger_url)
    yield led
    led.close()


@pytest.fixture
def run_id(ledger: Ledger) -> str:
    """A started run (most rows reference one)."""
    return ledger.start_run("test-hub", "cli", config_path="/ws/hub.yaml")

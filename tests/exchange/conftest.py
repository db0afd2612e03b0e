"""Fixtures for the exchange tests: a signer from a key generated in tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the tests import their small helper module by name (pytest runs with importlib mode)
sys.path.insert(0, str(Path(__file__).parent))

from hrss_hub.exchange.signing import Signer, generate_key_file, load_signer


@pytest.fixture
def signer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Signer:
    """A fresh Ed25519 key in tmp_path (never a committed key)."""
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY", raising=False)
    path = tmp_path / "keys" / "signing.pem"
    generate_key_file(path)
    return load_signer(str(path))

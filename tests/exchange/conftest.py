"""Fixtures for the exchange tests: a signer from a key generated in tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# the tests import their small helper module by name (pytest runs with importlib mode)
sys.path.insert(0, str(Path(__file__).parent))

from hrss_test_s3 import dummy_credentials, s3_server

from hrss_hub.exchange.signing import Signer, generate_key_file, load_signer


@pytest.fixture
def signer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Signer:
    """A fresh Ed25519 key in tmp_path (never a committed key)."""
    monkeypatch.delenv("HRSS_HUB_SIGNING_KEY", raising=False)
    path = tmp_path / "keys" / "signing.pem"
    generate_key_file(path)
    return load_signer(str(path))


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3 server (moto) for the tests of one module: ``host:port``."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy AWS credentials for the local server (real ones come from the environment)."""
    environ: dict[str, str] = {}
    dummy_credentials(environ)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

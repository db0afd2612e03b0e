"""The pseudonymizer's prepared HMAC equals the standard library's HMAC-SHA256."""

from __future__ import annotations

import hmac

import pyarrow as pa
import pytest

from hrss_hub.exchange.masking import pseudonymize


@pytest.mark.parametrize("key", [b"k", b"x" * 32, b"y" * 64, b"z" * 100])
def test_equals_hmac_sha256(key: bytes) -> None:
    values = ["11010519491231002X", "阿依古丽·买买提", "", None, "11010519491231002X"]
    got = pseudonymize(pa.array(values, pa.string()), key).to_pylist()
    want = [None if v is None else hmac.digest(key, v.encode(), "sha256").hex() for v in values]
    assert got == want

"""Exchanges: immutable, signed, versioned Parquet datasets and their delivery.

Layout of an exchange root (a folder or an ``s3://`` prefix)::

    <root>/<dataset>/CURRENT                    pointer: version + SHA-256 of its manifest
    <root>/<dataset>/v<N>/part-<division>-0000.parquet   zstd parts, one group per division
    <root>/<dataset>/v<N>/_manifest.json        rows, schema, per-file SHA-256, lineage, quality
    <root>/<dataset>/v<N>/_manifest.sig         Ed25519 signature of the manifest

Recipient outboxes (``<root>/../outbox/<recipient>/<dataset>/…``) have the same layout.
The Python API, importable from here::

    from hrss_hub.exchange import read_version, dataset, verify_path
    table = read_version("exchange", "person")          # current version, verified
    old = read_version("exchange", "person", version=3)  # time travel
"""

from __future__ import annotations

from typing import Any

_API = {
    "read_version": "hrss_hub.exchange.reading",
    "dataset": "hrss_hub.exchange.reading",
    "verify_path": "hrss_hub.exchange.verify",
    "publish_pending": "hrss_hub.exchange.versions",
    "build_catalog": "hrss_hub.exchange.catalog",
    "merge_upstream": "hrss_hub.exchange.levels",
    "Store": "hrss_hub.exchange.storage",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    # lazy: the pipeline imports hrss_hub.exchange.staging on every run and should not pay
    # for the reading, signing and policy modules it does not use
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'hrss_hub.exchange' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

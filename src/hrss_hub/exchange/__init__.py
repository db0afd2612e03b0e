"""Exchanges: Delta Lake tables per entity and per recipient outbox, signed per version.

Layout of an exchange root (a folder or an ``s3://`` prefix)::

    <root>/<entity>/_delta_log/…                 the Delta log (one commit per version)
    <root>/<entity>/<division col>=<code>/part-*.parquet   data files, Hive partitions
    <root>/<entity>/_change_data/…               Change Data Feed files (updates, deletes)
    <root>/<entity>/_hrss/manifests/<v>.json     the hub's manifest of Delta version v
    <root>/<entity>/_hrss/manifests/<v>.sig      its signature (Ed25519 or SM2/SM3)

Recipient outboxes (``<root>/../outbox/<recipient>/<entity>/``) are Delta tables of the
same shape with the agreement's columns, masking and row scope. Any Delta reader (polars,
pandas/pyarrow via ``deltalake``, duckdb, Spark) reads them; the Python API checks the
signed manifest first::

    from hrss_hub.exchange import read_version, dataset, verify_path
    table = read_version("exchange", "person")                 # current signed version
    old = read_version("exchange", "person", version=3)         # time travel by version
    then = read_version("exchange", "person", version="2026-06-30T00:00:00Z")  # by time
"""

from __future__ import annotations

from typing import Any

_API = {
    "read_version": "hrss_hub.exchange.reading",
    "read_changes": "hrss_hub.exchange.reading",
    "dataset": "hrss_hub.exchange.reading",
    "verify_path": "hrss_hub.exchange.verify",
    "publish_pending": "hrss_hub.exchange.versions",
    "deliver": "hrss_hub.exchange.deliver",
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

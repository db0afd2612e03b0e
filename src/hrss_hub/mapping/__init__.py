"""Mapping source streams onto the unified standard.

``spec`` parses a stream's ``mapping:`` YAML into typed specs (with YAML paths for errors),
``compile`` turns a spec into vectorized Arrow operations, ``check`` validates every
mapping of a workspace against the standard. Names are loaded on first use, so that the
specs (no pyarrow) can be used without the compiler (the Airflow DAG parser does).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hrss_hub.mapping.compile import CompiledMapping, MappedBatch, compile_mapping
    from hrss_hub.mapping.spec import FieldSpec, FilterSpec, MappingSpec, parse_mapping

_API = {
    "CompiledMapping": "hrss_hub.mapping.compile",
    "MappedBatch": "hrss_hub.mapping.compile",
    "compile_mapping": "hrss_hub.mapping.compile",
    "FieldSpec": "hrss_hub.mapping.spec",
    "FilterSpec": "hrss_hub.mapping.spec",
    "MappingSpec": "hrss_hub.mapping.spec",
    "parse_mapping": "hrss_hub.mapping.spec",
}

__all__ = [
    "CompiledMapping",
    "FieldSpec",
    "FilterSpec",
    "MappedBatch",
    "MappingSpec",
    "compile_mapping",
    "parse_mapping",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'hrss_hub.mapping' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

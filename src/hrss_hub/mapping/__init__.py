"""Mapping source streams onto the unified standard.

``spec`` parses a stream's ``mapping:`` YAML into typed specs (with YAML paths for errors),
``compile`` turns a spec into vectorized Arrow operations, ``check`` validates every
mapping of a workspace against the standard.
"""

from hrss_hub.mapping.compile import CompiledMapping, MappedBatch, compile_mapping
from hrss_hub.mapping.spec import FieldSpec, FilterSpec, MappingSpec, parse_mapping

__all__ = [
    "CompiledMapping",
    "FieldSpec",
    "FilterSpec",
    "MappedBatch",
    "MappingSpec",
    "compile_mapping",
    "parse_mapping",
]

"""Check every mapping of a workspace against the standard, reporting every problem.

Called by ``hrss-hub standard check`` (and by ``hrss-hub run`` before it starts). Problems
name the connector file, the YAML path and, where we can tell, a suggestion. With
``sample_rows`` the check also reads a sample of each stream and reports source values a
code mapping would not accept ("unmapped code values seen in data").
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.config import HubConfig
from hrss_hub.connectors.base import LOCATION_COLUMN
from hrss_hub.errors import HubError
from hrss_hub.mapping.compile import CompiledField, compile_mapping
from hrss_hub.mapping.spec import MappingSpec, parse_mapping
from hrss_hub.standard.check import Problem
from hrss_hub.standard.model import Entity, Standard

#: normalizer → the base types of target fields it can produce
_NORMALIZER_TYPES = {
    "citizen_id": {"string"}, "uscc": {"string"}, "org_code": {"string"},
    "date": {"date"}, "excel_date": {"date"}, "period": {"period", "string"},
    "fullwidth": {"string"}, "name": {"string"}, "trim": {"string"}, "amount": {"decimal"},
}


def _problem(file: str, path: str, message: str) -> Problem:
    return Problem(file=file, path=path, message=message)


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_spec(spec: MappingSpec, standard: Standard) -> list[Problem]:
    """Static checks of one parsed mapping against the standard."""
    problems: list[Problem] = []
    file = spec.file
    if spec.entity not in standard.entities:
        return [_problem(file, f"{spec.path}.entity", f"unknown entity {spec.entity!r}"
                         + _suggest(spec.entity, sorted(standard.entities)))]
    entity: Entity = standard.entities[spec.entity]
    names = [f.name for f in entity.fields]
    for target, fspec in spec.fields.items():
        if target not in names:
            problems.append(_problem(file, fspec.path, f"entity {entity.name} has no field "
                                     f"{target!r}" + _suggest(target, names)))
            continue
        field = entity.field(target)
        base = field.type.split("(", 1)[0]
        if fspec.normalize and base not in _NORMALIZER_TYPES[fspec.normalize]:
            problems.append(_problem(
                file, f"{fspec.path}.normalize",
                f"normalizer {fspec.normalize!r} produces "
                f"{'/'.join(sorted(_NORMALIZER_TYPES[fspec.normalize]))}, but field "
                f"{target!r} is {field.type}"))
        if fspec.codes and fspec.codes not in standard.code_lists:
            problems.append(_problem(file, f"{fspec.path}.codes", f"unknown code list "
                                     f"{fspec.codes!r}" + _suggest(fspec.codes,
                                                                   sorted(standard.code_lists))))
        if field.code_list and field.code_list in standard.code_lists:
            code_list = standard.code_lists[field.code_list]
            outputs = list((fspec.value_map or {}).values())
            if fspec.fallback and fspec.fallback != "quarantine":
                outputs.append(fspec.fallback)
            if fspec.const is not None:
                outputs.append(str(fspec.const))
            if outputs:
                valid = code_list.is_valid_array(pa.array(outputs, pa.string())).to_pylist()
                for out, ok in zip(outputs, valid, strict=True):
                    if not ok:
                        problems.append(_problem(
                            file, fspec.path, f"{out!r} is not a code of {code_list.name} "
                            f"({code_list.code_system})"))
        if fspec.expr and base not in ("decimal", "integer"):
            problems.append(_problem(file, f"{fspec.path}.expr",
                                     f"arithmetic gives a number, but {target!r} is {field.type}"))
    for field in entity.fields:
        if field.required and field.name not in spec.fields:
            problems.append(_problem(file, f"{spec.path}.fields",
                                     f"required field {field.name!r} of {entity.name} is not "
                                     f"mapped; add {field.name}: {{from: SOURCE_COLUMN}}"))
    return problems


def column_uses(spec: MappingSpec) -> list[tuple[str, str]]:
    """(source column, YAML path of the place reading it), for every column the mapping
    reads: fields (``from``, ``concat``, ``expr``), ``source_key`` and filters."""
    uses: list[tuple[str, str]] = []
    for fspec in spec.fields.values():
        if fspec.source:
            uses.append((fspec.source, fspec.path))
        uses += [(c, f"{fspec.path}.concat[{i}]") for i, c in enumerate(fspec.concat)]
        if fspec.expr:
            uses += [(c, f"{fspec.path}.expr") for c in fspec.source_columns()]
    uses += [(c, f"{spec.path}.source_key[{i}]") for i, c in enumerate(spec.source_key)]
    uses += [(flt.column, flt.path) for flt in spec.filters]
    return uses


def missing_columns(spec: MappingSpec, columns: list[str]) -> list[tuple[str, str, str]]:
    """(column, YAML path, closest existing column or "") for every place where the
    mapping reads a source column that is not in ``columns``."""
    known = [c for c in columns if c != LOCATION_COLUMN]
    found = []
    for col, path in column_uses(spec):
        if col not in known:
            close = difflib.get_close_matches(col, known, n=1)
            found.append((col, path, close[0] if close else ""))
    return found


def check_columns(spec: MappingSpec, columns: list[str]) -> list[Problem]:
    """Every place where the mapping reads a source column the stream does not have."""
    return [_problem(spec.file, path, f"source column {col!r} does not exist in the stream"
                     + (f" (did you mean {close!r}?)" if close else ""))
            for col, path, close in missing_columns(spec, columns)]


def sample_unmapped_codes(spec: MappingSpec, standard: Standard,
                          batch: pa.RecordBatch) -> list[Problem]:
    """Values in a sample batch that a code mapping would not accept."""
    problems: list[Problem] = []
    try:
        compiled = compile_mapping(spec, standard)
    except HubError:
        return problems  # reported by the static checks
    for target, cfield in compiled.fields.items():
        problems.extend(_unmapped_values(cfield, target, batch, spec.file))
    return problems


def _unmapped_values(cfield: CompiledField, target: str, batch: pa.RecordBatch,
                     file: str) -> list[Problem]:
    if cfield.spec.source is None or cfield.spec.source not in batch.schema.names:
        return []
    if cfield.codes is None and cfield.spec.value_map is None:
        return []
    failures: list[Any] = []
    cfield.apply(batch, lambda name: batch.column(name), failures, {})
    bad: set[str] = set()
    for f in failures:
        if f.rule in ("code_unmapped", "code_unknown"):
            values = pc.filter(f.offending, f.mask)
            bad.update(str(v) for v in values.to_pylist() if v is not None)
    if not bad:
        return []
    shown = ", ".join(repr(v) for v in sorted(bad)[:10])
    return [_problem(file, cfield.spec.path, f"source values seen in data have no code: {shown}; "
                     "add them to map: or set fallback:")]


def check_mappings(config: HubConfig, standard: Standard, *, sample_rows: int = 0) -> list[Problem]:
    """Every problem of every mapping in the workspace's ``connectors/`` folder."""
    from hrss_hub.config.problems import problems_of
    from hrss_hub.config.yamldoc import parse_path, read_yaml
    from hrss_hub.connectors.config import connector_files, load_system

    problems: list[Problem] = []
    assert config.connectors_dir is not None
    files = connector_files(config.connectors_dir) if Path(
        config.connectors_dir).is_dir() else []
    for path in files:
        try:
            system = load_system(path, config.root, hub=config)
        except HubError as exc:
            # every problem of the file (a connector file reports all of them at once)
            problems.extend(Problem(file=p.file or str(path), path=p.path, line=p.line,
                                    message=p.message + (f" — {p.hint}" if p.hint else ""))
                            for p in problems_of([exc]))
            continue
        doc = read_yaml(path, "connector file")  # valid: it just loaded; for line numbers
        for index, stream in enumerate(system.streams):
            if stream.mapping is None:
                continue
            spec = parse_mapping(stream.mapping, str(path), f"streams[{index}].mapping")
            static = [replace(p, line=p.line or doc.line(parse_path(p.path)))
                      for p in check_spec(spec, standard)]
            problems.extend(static)
            if sample_rows and not static:
                problems.extend(_check_against_data(system, stream.name, spec, standard,
                                                    sample_rows))
    return problems


def _check_against_data(system: Any, stream: str, spec: MappingSpec, standard: Standard,
                        sample_rows: int) -> list[Problem]:
    from hrss_hub.connectors.registry import create_connector

    try:
        connector = create_connector(system)
        schema = connector.discover()[stream]
        problems = check_columns(spec, list(schema.names))
        if problems:
            return problems
        for chunk in connector.read(stream, None):
            return sample_unmapped_codes(spec, standard, chunk.batch.slice(0, sample_rows))
    except HubError as exc:
        index = [s.name for s in system.streams].index(stream)
        return [_problem(str(system.source_file), f"streams[{index}]",
                         f"could not read a sample: {exc.message}")]
    return []

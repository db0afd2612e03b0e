"""Which delivered columns hold data: the fill check of ``sharing check`` and fill rates.

An agreement may grant columns that no connector of the workspace fills
(``employment_status`` when no source maps it): the recipient then receives a column that
is null in every row, and a check saying "0 problems" hides it. Two views close that gap:

- :func:`unfilled_columns` (``hrss-hub sharing check``, a warning per column): a delivered
  column of an entity that the workspace's connectors produce, but that none of their
  mappings fills. Entities no local connector produces (rows merged from other levels) are
  not judged — their columns are filled elsewhere. Lineage columns are always filled; a
  ``<field>_raw`` column is filled when ``<field>`` is mapped from a source column.
- :func:`fill_rates` (the delivery report): the share of non-null values of every outbox
  column in the delivered version, read from the Delta log's per-file statistics
  (``numRecords``, ``nullCount``), so it costs no data scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hrss_hub.exchange.policy import Agreement
from hrss_hub.standard.model import Standard

#: the suffix of the raw-value fields the mapping fills (see mapping.compile.raw_fields)
_RAW = "_raw"


def filled_fields(mappings: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """``{entity: fields some mapping fills}`` of a workspace's ``mapping:`` blocks."""
    out: dict[str, set[str]] = {}
    for mapping in mappings:
        entity = mapping.get("entity")
        fields = mapping.get("fields")
        if not isinstance(entity, str) or not isinstance(fields, Mapping):
            continue
        names = out.setdefault(entity, set())
        for target, how in fields.items():
            names.add(str(target))
            from_source = isinstance(how, str | int) or (
                isinstance(how, Mapping) and ("from" in how or "concat" in how))
            if from_source:
                names.add(f"{target}{_RAW}")
    return out


def unfilled_columns(agreements: Iterable[Agreement], standard: Standard,
                     filled: Mapping[str, set[str]]) -> list[str]:
    """One warning per delivered column no connector fills (see the module docstring)."""
    lineage = {f.name for f in standard.lineage_fields}
    warnings: list[str] = []
    for agreement in agreements:
        for dataset, grant in sorted(agreement.datasets.items()):
            produced = filled.get(dataset)
            if produced is None:
                continue  # no local source: the rows come from other hubs
            empty = [c for c in grant.delivered_columns
                     if c not in produced and c not in lineage]
            for column in empty:
                warnings.append(
                    f"{agreement.source_file.name}: datasets.{dataset}.columns.{column}: no "
                    f"connector maps {dataset}.{column}, so {agreement.recipient_id} receives "
                    "it empty (100% null); map it in a connector or drop it from the agreement")
    return warnings


def workspace_mappings(cfg: Any) -> tuple[list[Mapping[str, Any]], str | None]:
    """The ``mapping:`` blocks of the workspace's connector files, and why none could be
    read (``None`` when they could)."""
    from hrss_hub.connectors.config import load_workspace_systems
    from hrss_hub.errors import HubError

    if cfg.connectors_dir is None or not cfg.connectors_dir.is_dir():
        return [], None
    try:
        systems = load_workspace_systems(cfg)
    except HubError as exc:
        first = str(exc).splitlines()[0]
        return [], f"connector files could not be read ({first}); fill check skipped"
    return [s.mapping for sys in systems.values() for s in sys.streams if s.mapping], None


def fill_rates(dt: Any) -> dict[str, float | None]:
    """``{column: share of non-null values}`` of a ``deltalake.DeltaTable``'s current
    version from its file statistics; ``None`` where a file has no null count for the
    column (statistics not collected), ``{}`` for an empty table."""
    import pyarrow as pa

    actions = pa.table(dt.get_add_actions(flatten=True))
    names = [f.name for f in pa.schema(dt.schema().to_arrow())]
    if actions.num_rows == 0:
        return {}
    records = actions["num_records"].to_pylist()
    total = sum(int(r or 0) for r in records)
    partitions = set(dt.metadata().partition_columns)
    out: dict[str, float | None] = {}
    for name in names:
        column = f"null_count.{name}"
        if name in partitions:
            values = actions[f"partition.{name}"].to_pylist() \
                if f"partition.{name}" in actions.column_names else None
            out[name] = None if values is None else _share(
                sum(int(r or 0) for r, v in zip(records, values, strict=True) if v is None),
                total)
            continue
        if column not in actions.column_names:
            out[name] = None
            continue
        nulls = actions[column].to_pylist()
        if any(n is None for n in nulls):
            out[name] = None
            continue
        out[name] = _share(sum(int(n) for n in nulls), total)
    return out


def _share(nulls: int, total: int) -> float:
    return round(1 - nulls / total, 4) if total else 0.0

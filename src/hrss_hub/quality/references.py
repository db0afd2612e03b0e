"""The values a reference check (``reference_missing``) compares against.

A contribution's person must exist — *somewhere the run's readers will find it*: in the
entity's current published version **or** among the rows staged for the next version,
which includes the rows this very run staged for that entity (and rows of earlier runs
that wait to be published). Reading only the published version passed everything on a
first run (nothing published: the check judged nothing) and flagged every new row on an
incremental run (the run's own new persons were not published yet).

So that a referenced entity's rows are staged before the streams that refer to them run,
:func:`stream_phases` orders a run's streams: a stream runs after every stream whose entity
its suites reference, whichever system holds it (a reference cycle keeps file order). In
Airflow each system is its own DAG and its streams run in parallel, so a reference sees what
other streams have staged or published *by then*; one that arrives later is counted
(``reference_missing`` is a warning by default), never lost. An entity no run has ever
staged or published (e.g. a workspace without an employer source) is not judged.

Memory: one column of one file at a time; only the distinct values survive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hrss_hub.quality.suites import Suite

#: the GX expectation type of the reference rule
REFERENCE_EXPECTATION = "expect_column_values_to_exist_in_entity"

T = TypeVar("T")


def referenced(suites: Sequence[Suite]) -> set[tuple[str, str]]:
    """``(entity, field)`` pairs the reference expectations of ``suites`` look up."""
    return {(str(e.kwargs["entity"]), str(e.kwargs["entity_field"]))
            for s in suites for e in s.expectations if e.type == REFERENCE_EXPECTATION}


def published_values(exchange: str | Path | None, entity: str, fld: str) -> pa.Array | None:
    """Distinct values of ``entity.fld`` in the current published version (None: nothing
    published). ``exchange``: where the workspace publishes (``HubConfig.exchange_uri``: a
    folder or ``s3://…``), so the check reads what recipients read."""
    if exchange is None:
        return None
    from hrss_hub.errors import PublishError
    from hrss_hub.exchange import dataset

    try:
        data = dataset(exchange, entity, verify=False)
        seen = [pc.unique(batch.column(0).cast(pa.string()))
                for batch in data.to_batches(columns=[fld])]
    except (PublishError, pa.ArrowInvalid, KeyError):
        return None
    return _union(seen)


def staged_file_values(path: Path, fld: str) -> pa.Array | None:
    """Distinct values of ``fld`` in one staged Parquet file (None: no such column)."""
    pf = pq.ParquetFile(path)
    if fld not in pf.schema_arrow.names:
        return None
    seen = [pc.unique(batch.column(0).cast(pa.string()))
            for batch in pf.iter_batches(columns=[fld], batch_size=65_536)]
    return _union(seen)


def _union(parts: Iterable[pa.Array | None]) -> pa.Array | None:
    present = [p for p in parts if p is not None]
    if not present:
        return None
    return pc.unique(pa.concat_arrays([p.cast(pa.string()) for p in present]))


class ReferenceValues:
    """Published ∪ staged values per ``(entity, field)``, cached for one run.

    The published version does not change while a run stages (publishing ends the run), so
    it is read once; staged files are read once each, and looked up again every time a
    stream starts, so a stream sees the rows the run's earlier streams staged.
    """

    def __init__(self, exchange: str | Path | None, exchange_root: Path | None) -> None:
        self.exchange = exchange
        self.exchange_root = exchange_root
        self._published: dict[tuple[str, str], pa.Array | None] = {}
        self._files: dict[tuple[Path, str], pa.Array | None] = {}

    def values(self, entity: str, fld: str) -> pa.Array | None:
        """The values ``entity.fld`` may be referred to by now (None: none anywhere)."""
        key = (entity, fld)
        if key not in self._published:
            self._published[key] = published_values(self.exchange, entity, fld)
        parts = [self._published[key]]
        if self.exchange_root is not None:
            from hrss_hub.exchange.pending import list_pending

            for pending in list_pending(self.exchange_root, entity):
                fkey = (pending.path, fld)
                if fkey not in self._files:
                    self._files[fkey] = staged_file_values(pending.path, fld)
                parts.append(self._files[fkey])
        return _union(parts)

    def for_suites(self, suites: Sequence[Suite]) -> dict[tuple[str, str], pa.Array | None]:
        """What a stream validated by ``suites`` gets as ``RuleContext.references``."""
        return {key: self.values(*key) for key in sorted(referenced(suites))}


def stream_phases(streams: Sequence[tuple[T, str | None]],
                  suites: Mapping[str, Sequence[Suite]]) -> list[list[T]]:
    """Group ``(item, entity)`` pairs into phases run one after the other: an item comes
    after every item whose entity its entity's suites reference (order kept within a
    phase; a reference cycle, or an entity referring to itself, does not reorder)."""
    entities = {e for _, e in streams if e}
    needs = {e: {r for r, _ in referenced(suites.get(e, ())) if r in entities and r != e}
             for e in entities}
    depth: dict[str, int] = {}

    def visit(entity: str, path: frozenset[str]) -> int:
        if entity in depth:
            return depth[entity]
        if entity in path:
            return 0  # a cycle: no order can satisfy it
        d = max((visit(r, path | {entity}) + 1 for r in needs[entity]), default=0)
        depth[entity] = d
        return d

    for e in sorted(entities):
        visit(e, frozenset())
    phases: dict[int, list[T]] = {}
    for item, entity in streams:
        phases.setdefault(depth.get(entity, 0) if entity else 0, []).append(item)
    return [phases[d] for d in sorted(phases)]

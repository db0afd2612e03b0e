"""Levels: a city hub merges what its districts report up (上报), and hands it down (下发).

A district reports up by *delivering* to its city like to any recipient: an agreement
with ``recipient.level: city`` keeps an outbox table (every column, lineage included) at
``<district outbox>/city-…/<entity>/``. The city merges those tables into its own with
:func:`merge_upstream`:

- each source's newest signed version is verified first (signature against the pinned
  district keys, commit digest, file list and digests);
- the first time, the source's rows are the candidates; afterwards only its changes since
  the version merged last (its Change Data Feed: inserts and post-images are candidates,
  a deletion retracts the city's record when that record still comes from the same
  source system and source key);
- candidates of every district are decided together by the same rule as a publish
  (:mod:`winner`: source precedence, the source's update time, …) against the city's
  current records, and committed as one city version whose manifest lists each upstream
  version it absorbed (``lineage.upstream``), lineage columns kept.

Distributing down (下发) needs nothing special: the city delivers to district recipients
whose agreements scope rows by division prefix, from its own table's CDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import PublishError
from hrss_hub.exchange.commit import CommittedVersion, latest_signed
from hrss_hub.exchange.deliver import net_changes
from hrss_hub.exchange.layout import entity_layout
from hrss_hub.exchange.publish import (
    OP,
    Decision,
    apply_decision,
    decide_bucket,
    ensure_table,
    in_keys,
    lookup,
    merge_stats,
    publish_lock,
)
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.suites import PublicKey
from hrss_hub.exchange.tables import Table, load_changes, with_retries
from hrss_hub.exchange.verify import verify_version
from hrss_hub.exchange.winner import WinRule, winners
from hrss_hub.standard.model import Entity


@dataclass(frozen=True)
class Upstream:
    """One lower-level source: a store (e.g. ``outbox/city-510100``) holding the dataset."""

    root: str | Path | Store
    name: str


def merge_upstream(store: Store, entity: Entity, sources: Sequence[Upstream], *,
                   signer: Signer, publisher: dict[str, str], standard_version: str,
                   trusted: list[PublicKey] | None = None, rule: WinRule | None = None,
                   retention_hours: int = 168,
                   keep: int = 10) -> CommittedVersion | None:
    """Merge the sources' changes into the next version of ``entity``; ``None`` when
    every source is already merged at its newest version."""
    del keep
    rule = rule or WinRule()
    layout = entity_layout(entity)
    verified: list[tuple[Upstream, Table, CommittedVersion]] = []
    for src in sources:
        table = Table(Store.open(src.root), entity.name)
        version = latest_signed(table) if table.exists() else None
        if version is None:
            continue
        report = verify_version(table, version.version, trusted=trusted, deep=True)
        if not report.ok:
            raise PublishError("upstream dataset failed verification: "
                               + "; ".join(report.problems),
                               {"source": src.name, "dataset": entity.name,
                                "version": version.version},
                               "ask the lower-level hub to republish; nothing was merged")
        missing = [n for n in layout.schema.names
                   if n not in {f["name"] for f in version.manifest["schema"]}
                   and layout.schema.field(n).nullable is False]
        if missing:
            raise PublishError("upstream extract lacks columns needed to merge",
                               {"source": src.name, "dataset": entity.name,
                                "columns": ", ".join(missing)},
                               "the reporting agreement must keep every column "
                               "(including lineage) unmasked")
        verified.append((src, table, version))
    city = Table(store, entity.name)
    meta = {"standard_version": standard_version, "publisher": publisher,
            "kind": "exchange", "audit_head": None}
    with publish_lock(store, entity.name):
        ensure_table(city, layout, signer, meta, retention_hours)
        base_version = latest_signed(city)
        merged: dict[str, dict[str, Any]] = {} if base_version is None else {
            u["source"]: u for u in base_version.manifest.get("lineage", {}).get("upstream", [])}
        fresh = [(s, t, v) for s, t, v in verified
                 if merged.get(s.name, {}).get("manifest_sha256") != v.manifest_sha256]
        if not fresh:
            return None
        prev_lineage = {} if base_version is None else base_version.manifest.get("lineage", {})

        def attempt() -> CommittedVersion:
            return _merge_once(city, entity, fresh, merged, rule, signer, meta, prev_lineage,
                               [s.name for s in sources])

        return with_retries(attempt, f"merge upstream {entity.name}")


def _candidates(table: Table, version: CommittedVersion, since: dict[str, Any] | None,
                schema: pa.Schema) -> tuple[pa.Table, pa.Table]:
    """(upserts, retractions) of one source since its last merged version."""
    dt = table.open(version.version)
    same_table = since is not None and since.get("table_id") == version.manifest.get(
        "table_id")
    if not same_table or since is None:
        rows = table.dataset(dt).to_table()
        return _conform(rows, schema), schema.empty_table()
    changes = load_changes(dt, int(since["version"]) + 1, version.version)
    key = tuple(version.manifest.get("key") or ())
    net = net_changes(changes, key)
    ups = net.filter(pc.equal(net[OP], "U"))
    downs = net.filter(pc.equal(net[OP], "D"))
    return _conform(ups, schema), _conform(downs, schema)


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    cols = []
    for f in schema:
        if f.name in rows.column_names:
            cols.append(rows[f.name].cast(f.type))
        else:
            cols.append(pa.nulls(rows.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _merge_once(city: Table, entity: Entity,
                fresh: Sequence[tuple[Upstream, Table, CommittedVersion]],
                merged: dict[str, dict[str, Any]], rule: WinRule, signer: Signer,
                meta: dict[str, Any], prev_lineage: dict[str, Any],
                names: list[str]) -> CommittedVersion:
    layout = entity_layout(entity)
    dt = city.open()
    base = int(dt.version())
    ups: list[pa.Table] = []
    downs: list[pa.Table] = []
    upstream = dict(merged)
    for src, table, version in fresh:
        u, d = _candidates(table, version, merged.get(src.name), layout.schema)
        ups.append(u)
        downs.append(d)
        upstream[src.name] = {"source": src.name, "version": version.version,
                              "manifest_sha256": version.manifest_sha256,
                              "table_id": version.manifest.get("table_id"),
                              "rows": version.rows,
                              "publisher": version.manifest.get("publisher")}
    incoming = pa.concat_tables(ups)
    decision = Decision()
    decide_bucket(city, dt, layout, incoming, rule, decision, None)
    retract = pa.concat_tables(downs)
    if retract.num_rows:
        # a retraction only applies to keys no district sent a fresh record for
        retract = retract.filter(pc.invert(in_keys(retract, incoming, layout.key)))
    if retract.num_rows:
        # and only where the city still holds that very record (same origin): delta-rs'
        # MERGE rejects unmatched source rows that would violate NOT NULL columns
        origin = [*layout.key, "source_system", "source_key"]
        held = lookup(dt, layout, retract, origin, city)
        retract = retract.filter(in_keys(retract, held, origin))
    if retract.num_rows:
        kept = winners(retract, list(layout.key), rule)
        decision.deletes.append(kept)
        if layout.partition_by:
            decision.old_partitions.update(pc.unique(kept[layout.partition_by[0]]).to_pylist())
    lineage = {
        "inputs": [],
        "runs": sorted({r for t in ups if t.num_rows for r in pc.unique(t["run_id"]).to_pylist()
                        if r is not None}),
        "systems": sorted(set(prev_lineage.get("systems", [])) | {
            s for t in ups if t.num_rows for s in pc.unique(t["source_system"]).to_pylist()
            if s is not None}),
        # in the order the sources were given, then any merged before and not given now
        "upstream": [upstream[n] for n in sorted(upstream, key=lambda n: (
            names.index(n) if n in names else len(names), n))],
        "merge": merge_stats(incoming.num_rows, decision) | {"retracted": retract.num_rows},
    }
    return apply_decision(city, layout, signer, dt, base, decision, "merge-upstream",
                          {**meta, "quality": {}, "rule": rule.describe(), "lineage": lineage})

"""Building the person master (``person_master``) and its links (``person_link``).

Input is what a run staged for the entities that carry a person's attributes (``person``,
``civil_status_event``): every system's record, before the exchange's MERGE keeps one
winner per citizen ID. Each record becomes (or updates) its ``person_link`` row — keyed by
(entity, system, source key), with the rule that linked it (``id18``, or ``id15`` when the
source held the 15-digit number) and the attribute values it holds. The master rows of the
persons those links touch are then recomputed from all their links:

- **survivorship** per field: the systems listed for the field in hub.yaml
  ``master.survivorship`` (else ``source_precedence``) first, in that order, then unlisted
  systems by name; within a system the most recent record (the source's own update time,
  else the extraction time); then the source key. The first non-empty value wins and its
  system is kept beside it (``name_source`` …);
- **conflicts**: the fields whose values differ between records after normalization —
  names compared folded (:mod:`.names`, so 陳/陈 and dot variants are no conflict);
- **merges**: a pair a steward accepted (``hrss-hub master review accept``) marks the second
  person's row ``merged_into`` the first.

Only rows that differ from the published version are staged (incremental). The work runs
in DuckDB with the hub's memory limit; nothing is held per record in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.config.sections import MasterSection
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.versions import exchange_store
from hrss_hub.master.derived import BUILD_COLUMNS, stage_derived
from hrss_hub.master.names import fold_table
from hrss_hub.standard.model import Standard, load_standard

if TYPE_CHECKING:
    import duckdb

    from hrss_hub.config import HubConfig

#: entities whose records carry a person's attributes (and are linked one by one)
LINKED = ("person", "civil_status_event")
#: fields chosen by survivorship, in person_master's order
SURVIVING = ("name", "gender", "birth_date", "phone")
#: fields compared for identity conflicts
CONFLICTING = ("name", "birth_date", "gender")
SYSTEM = "master"
_RECORD_KEY = ("record_entity", "record_system", "record_key")


@dataclass
class MasterReport:
    """What one build did."""

    records: int = 0  # staged source records read
    persons: int = 0  # master rows recomputed
    staged_links: int = 0
    staged_persons: int = 0
    conflicts: int = 0  # recomputed rows with a conflict

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return dict(self.__dict__)


def master_settings(cfg: HubConfig) -> MasterSection:
    """The validated ``master:`` section of hub.yaml (defaults where unset)."""
    return MasterSection.model_validate(dict(cfg.master))


def staged_links(cfg: HubConfig, standard: Standard) -> pa.Table:
    """``person_link`` rows for every record staged for the linked entities."""
    assert cfg.exchange_root is not None
    out = []
    for name in LINKED:
        entity = standard.entity(name)
        schema = entity_schema(entity)
        for pending in list_pending(cfg.exchange_root, name):
            out.append(_links_of(name, pending.read(schema), cfg.division))
    link_schema = _link_schema(standard)
    if not out:
        return link_schema.empty_table()
    return pa.concat_tables(out).cast(link_schema)


def _link_schema(standard: Standard) -> pa.Schema:
    """person_link's columns without the build lineage (added when staged)."""
    schema = entity_schema(standard.entity("person_link"))
    return pa.schema([f for f in schema if f.name not in BUILD_COLUMNS])


def _links_of(entity: str, rows: pa.Table, default_division: str) -> pa.Table:
    n = rows.num_rows

    def col(name: str, typ: pa.DataType | None = None) -> pa.Array | pa.ChunkedArray:
        return rows[name] if name in rows.column_names else pa.nulls(n, typ or pa.string())

    raw = col("citizen_id_raw")
    legacy = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(raw)), 15), False)
    division = pc.coalesce(col("address_division") if "address_division" in rows.column_names
                           else col("division"), pa.scalar(default_division))
    updated = pc.coalesce(col("source_updated_at", rows.schema.field("extracted_at").type),
                          rows["extracted_at"])
    return pa.table({
        "record_entity": pa.array([entity] * n, pa.string()),
        "record_system": rows["source_system"], "record_key": rows["source_key"],
        "citizen_id": rows["citizen_id"],
        "link_rule": pc.if_else(legacy, "id15", "id18"),
        "match_probability": pa.nulls(n, pa.decimal128(5, 4)),
        "name": col("name"), "gender": col("gender"),
        "birth_date": col("birth_date", pa.date32()), "phone": col("phone"),
        "record_updated_at": updated, "division": division,
        "source_system": rows["source_system"], "source_key": rows["source_key"],
    })


def _rank_sql(systems: tuple[str, ...]) -> str:
    """A struct ordering links by precedence, then recency, then key (smallest wins)."""
    cases = " ".join(f"WHEN '{s.replace(chr(39), chr(39) * 2)}' THEN {i}"
                     for i, s in enumerate(systems))
    rank = f"CASE record_system {cases} ELSE {len(systems)} END" if systems else "0"
    listed = ", ".join("'" + s.replace("'", "''") + "'" for s in systems)
    unlisted = (f"CASE WHEN record_system IN ({listed}) THEN '' ELSE record_system END"
                if systems else "record_system")
    return (f"struct_pack(r := {rank}, s := {unlisted}, "
            f"t := -epoch_us(CAST(record_updated_at AS TIMESTAMP)), k := record_key)")


def master_sql(cfg: HubConfig) -> str:
    """The SELECT computing master rows from the ``links`` of the ``affected`` persons."""
    settings = master_settings(cfg)
    default = tuple(cfg.source_precedence)
    parts = ["l.citizen_id"]
    for f in SURVIVING:
        order = _rank_sql(tuple(settings.survivorship.get(f, default)))
        parts.append(f"arg_min(l.{f}, {order}) FILTER (WHERE l.{f} IS NOT NULL) AS {f}")
        parts.append(f"arg_min(l.record_system, {order}) FILTER (WHERE l.{f} IS NOT NULL) "
                     f"AS {f}_source")
    order = _rank_sql(default)
    parts.append(f"arg_min(l.division, {order}) AS division")
    parts.append("string_agg(DISTINCT l.record_system, ',' ORDER BY l.record_system) AS systems")
    parts.append("count(*) AS records")
    cmp = {"name": "f.name_folded", "birth_date": "l.birth_date", "gender": "l.gender"}
    flags = ", ".join(f"CASE WHEN count(DISTINCT {cmp[c]}) > 1 THEN '{c}' END"
                      for c in CONFLICTING)
    parts.append(f"NULLIF(concat_ws(',', {flags}), '') AS conflicts")
    parts.append("any_value(mg.merged_into) AS merged_into")
    return (f"SELECT {', '.join(parts)} FROM links l "
            "JOIN affected a USING (citizen_id) "
            "LEFT JOIN folded f ON f.name = l.name "
            "LEFT JOIN merges mg ON mg.citizen_id = l.citizen_id "
            "GROUP BY l.citizen_id")


def build_master(cfg: HubConfig, ledger: Any, *, run_id: str, full: bool = False
                 ) -> MasterReport:
    """Link this run's staged person records and stage the changed master rows.

    ``full`` recomputes every person from the published links (after a change of the
    survivorship settings or a steward's decision) instead of only those touched.
    """
    from hrss_hub.master.review import accepted_merges
    from hrss_hub.supervision.duck import connect, register

    standard = load_standard(cfg.standard_dir)
    report = MasterReport()
    fresh = staged_links(cfg, standard)
    report.records = fresh.num_rows
    con = connect(cfg)
    try:
        have = register(con, exchange_store(cfg), ("person_link", "person_master"))
        con.register("fresh_arrow", fresh)
        con.execute("CREATE TEMP TABLE fresh AS SELECT * FROM fresh_arrow")
        cols = ", ".join(f'"{f.name}"' for f in _link_schema(standard))
        if "person_link" in have:
            con.execute(f"CREATE TEMP TABLE old_links AS SELECT {cols} FROM person_link")
        else:
            con.execute("CREATE TEMP TABLE old_links AS SELECT * FROM fresh WHERE false")
        con.execute("CREATE TEMP TABLE links AS SELECT * FROM fresh UNION ALL "
                    "SELECT o.* FROM old_links o ANTI JOIN fresh n "
                    "USING (record_entity, record_system, record_key)")
        merges = accepted_merges(ledger, con)
        con.register("merges_arrow", merges)
        con.execute("CREATE TEMP TABLE merges AS SELECT * FROM merges_arrow")
        if full:
            con.execute("CREATE TEMP TABLE affected AS SELECT DISTINCT citizen_id FROM links")
        else:
            con.execute("CREATE TEMP TABLE affected AS "
                        "SELECT citizen_id FROM fresh UNION "
                        "SELECT o.citizen_id FROM old_links o SEMI JOIN fresh n "
                        "USING (record_entity, record_system, record_key) UNION "
                        "SELECT citizen_id FROM merges UNION SELECT merged_into FROM merges")
        names = con.sql("SELECT DISTINCT l.name FROM links l SEMI JOIN affected a "
                        "USING (citizen_id) WHERE l.name IS NOT NULL").to_arrow_table()
        con.register("folded", fold_table(names["name"]))
        master = con.sql(master_sql(cfg)).to_arrow_table()
        report.persons = master.num_rows
        report.conflicts = int(pc.sum(pc.is_valid(master["conflicts"])).as_py() or 0)
        new_links = _changed(con, "fresh", "old_links" if "person_link" in have else None,
                             list(_link_schema(standard).names))
        master_rows = _with_lineage(master, standard)
        con.register("master_new", master_rows)
        compare = [f.name for f in entity_schema(standard.entity("person_master"))
                   if f.name not in ("run_id", "extracted_at", "source_updated_at")]
        changed_master = _changed(con, "master_new",
                                  "person_master" if "person_master" in have else None, compare)
    finally:
        con.close()
    report.staged_links = stage_derived(
        cfg, standard.entity("person_link"), new_links, run_id=run_id, system=SYSTEM,
        stream="links", standard_version=standard.version)
    report.staged_persons = stage_derived(
        cfg, standard.entity("person_master"), changed_master, run_id=run_id, system=SYSTEM,
        stream="persons", standard_version=standard.version)
    return report


def _with_lineage(master: pa.Table, standard: Standard) -> pa.Table:
    schema = entity_schema(standard.entity("person_master"))
    n = master.num_rows
    cols = {f.name: master[f.name] for f in schema if f.name in master.column_names}
    cols["source_system"] = pa.array([SYSTEM] * n, pa.string())
    cols["source_key"] = master["citizen_id"]
    fields = [f for f in schema if f.name in cols]
    return pa.table([cols[f.name].cast(f.type) for f in fields], schema=pa.schema(fields))


def _changed(con: duckdb.DuckDBPyConnection, new: str, old: str | None,
             columns: list[str]) -> pa.Table:
    """Rows of ``new`` whose ``columns`` differ from every row of ``old`` (all: no old)."""
    listed = ", ".join(f'"{c}"' for c in columns)
    if old is None:
        return con.sql(f"SELECT * FROM {new}").to_arrow_table()
    keep = con.sql(f"SELECT {listed} FROM {new} EXCEPT SELECT {listed} FROM {old}")
    con.register("__keep", keep.to_arrow_table())
    on = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM k."{c}"' for c in columns)
    return con.sql(f"SELECT n.* FROM {new} n SEMI JOIN __keep k ON {on}").to_arrow_table()

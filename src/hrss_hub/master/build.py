"""Building the person master (``person_master``) and its links (``person_link``).

Input is what a run staged for the entities that carry a person's attributes (``person``,
``civil_status_event``): every system's record, before the exchange's MERGE keeps one
winner per citizen ID. Each record becomes (or updates) its ``person_link`` row — keyed by
(entity, system, source key), with the rule that linked it (``id18``, or ``id15`` when the
source held the 15-digit number) and the attribute values it holds. Two more kinds of
record are linked: published records that no link holds as they are (what reached the
exchange without being staged here — a city's persons merged up from its districts), and
records the row gate quarantined for an invalid or missing ID once a steward accepted their
record-linkage pair (rule ``steward``, or ``auto`` above ``auto_link_threshold``). The
master rows of the persons those links touch are then recomputed from all their links:

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
in DuckDB with the hub's memory limit (``duckdb:`` in hub.yaml), over the staged and
published Parquet files directly, and DuckDB writes the changed rows to the staged files
itself. Nothing is held per record in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hrss_hub.config.sections import MasterSection
from hrss_hub.exchange.layout import entity_schema, sql_literal
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.versions import exchange_store
from hrss_hub.master.derived import BUILD_COLUMNS, duck_type, stage_query
from hrss_hub.master.names import fold_table
from hrss_hub.master.quarantined import quarantine_of, quarantined_persons_sql
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
    adopted: int = 0  # quarantined records linked by an accepted review
    unlinked: int = 0  # published records not linked yet (merged up from lower levels)

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return dict(self.__dict__)


def master_settings(cfg: HubConfig) -> MasterSection:
    """The validated ``master:`` section of hub.yaml (defaults where unset)."""
    return MasterSection.model_validate(dict(cfg.master))


def staged_links_sql(cfg: HubConfig, standard: Standard) -> str:
    """A SELECT of the ``person_link`` rows of every record staged for the linked entities,
    read by DuckDB from the staged Parquet files (nothing of them is held in Python)."""
    import pyarrow.parquet as pq

    assert cfg.exchange_root is not None
    schema = _link_schema(standard)
    selects = []
    for name in LINKED:
        for pending in list_pending(cfg.exchange_root, name):
            have = set(pq.read_schema(pending.path).names)
            source = f"read_parquet({sql_literal(str(pending.path))})"
            selects.append(_links_select(name, source, have, cfg.division, schema))
    if not selects:
        cols = ", ".join(f'CAST(NULL AS {duck_type(f.type)}) AS "{f.name}"' for f in schema)
        return f"SELECT {cols} WHERE false"
    return " UNION ALL ".join(selects)


def _link_schema(standard: Standard) -> pa.Schema:
    """person_link's columns without the build lineage (added when staged)."""
    schema = entity_schema(standard.entity("person_link"))
    return pa.schema([f for f in schema if f.name not in BUILD_COLUMNS])


def _link_published(con: duckdb.DuckDBPyConnection, cfg: HubConfig, schema: pa.Schema,
                    entities: list[str]) -> int:
    """Add to ``fresh`` the published records of ``entities`` that no link holds as they
    are — records that reached the exchange without being staged here: a city's persons
    merged up from its districts (:func:`hrss_hub.exchange.levels.merge_upstream`).
    Returns how many."""
    before = _count(con, "fresh")
    for entity in entities:
        have = set(con.sql(f'SELECT * FROM "{entity}" LIMIT 0').columns)
        con.execute(f"""
            INSERT INTO fresh
            SELECT * FROM ({_links_select(entity, f'"{entity}"', have, cfg.division, schema)}
                           EXCEPT SELECT * FROM old_links) p
            WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.record_entity = p.record_entity
                              AND f.record_system = p.record_system
                              AND f.record_key = p.record_key)""")
    return _count(con, "fresh") - before


def _links_select(entity: str, source: str, have: set[str], default_division: str,
                  schema: pa.Schema) -> str:
    """The person_link columns of the records of ``entity`` in ``source`` (a staged file's
    ``read_parquet``, or a published dataset's view) with the columns ``have``."""

    def col(name: str) -> str:
        return f'"{name}"' if name in have else "NULL"

    division = "address_division" if "address_division" in have else "division"
    raw = col("citizen_id_raw")
    values = {
        "record_entity": sql_literal(entity), "record_system": "source_system",
        "record_key": "source_key", "citizen_id": "citizen_id",
        # the source held the 15-digit number: linked by its upgrade
        "link_rule": f"CASE WHEN length(trim(CAST({raw} AS VARCHAR), ' \t\r\n\u3000')) = 15 "
                     "THEN 'id15' ELSE 'id18' END",
        "match_probability": "NULL", "name": col("name"), "gender": col("gender"),
        "birth_date": col("birth_date"), "phone": col("phone"),
        "record_updated_at": f"coalesce({col('source_updated_at')}, extracted_at)",
        "division": f"coalesce({col(division)}, {sql_literal(default_division)})",
        "source_system": "source_system", "source_key": "source_key"}
    cols = ", ".join(f'CAST({values[f.name]} AS {duck_type(f.type)}) AS "{f.name}"'
                     for f in schema)
    return f"SELECT {cols} FROM {source}"


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


#: the citizen IDs of the ``affected`` persons that have one link in ``links``
SINGLE_SQL = ("SELECT citizen_id FROM links SEMI JOIN affected USING (citizen_id) "
              "GROUP BY citizen_id HAVING count(*) = 1")


def master_sql(cfg: HubConfig) -> str:
    """The SELECT computing master rows from the ``links`` of the ``affected`` persons.

    Most persons have one link (every person of a first build from one system), listed in
    ``single`` (:data:`SINGLE_SQL`): their row is that link's values, projected as the
    links are read, without aggregating or holding them. The others are aggregated
    (:func:`_aggregate_sql`); both give what the aggregate gives for one link.
    """
    one = ["l.citizen_id"]
    for f in SURVIVING:
        one += [f"l.{f}", f"CASE WHEN l.{f} IS NOT NULL THEN l.record_system END "
                f"AS {f}_source"]
    one += ["l.division", "l.record_system AS systems", "CAST(1 AS BIGINT) AS records",
            "CAST(NULL AS VARCHAR) AS conflicts", "mg.merged_into"]
    many = ("(SELECT l.*, f.name_folded, mg.merged_into FROM links l "
            "JOIN affected a USING (citizen_id) ANTI JOIN single s USING (citizen_id) "
            "LEFT JOIN folded f ON f.name = l.name "
            "LEFT JOIN merges mg ON mg.citizen_id = l.citizen_id) l")
    return (f"SELECT {', '.join(one)} FROM links l SEMI JOIN single s USING (citizen_id) "
            "LEFT JOIN merges mg ON mg.citizen_id = l.citizen_id "
            f"UNION ALL {_aggregate_sql(cfg, many)}")


def _aggregate_sql(cfg: HubConfig, source: str) -> str:
    """The master rows aggregated from the links in ``source`` (``l``, with the columns
    ``name_folded`` and ``merged_into``), one per citizen ID."""
    settings = master_settings(cfg)
    default = tuple(cfg.source_precedence)
    parts = ["l.citizen_id"]
    for f in SURVIVING:
        order = _rank_sql(tuple(settings.survivorship.get(f, default)))
        # value and system of the same winner in one aggregate: the ordering struct is the
        # costly part, so it is compared once per field, not twice
        parts.append(f"arg_min(struct_pack(v := l.{f}, s := l.record_system), {order}) "
                     f"FILTER (WHERE l.{f} IS NOT NULL) AS __{f}")
    order = _rank_sql(default)
    parts.append(f"arg_min(l.division, {order}) AS division")
    # sorted distinct systems; a list, not string_agg(DISTINCT … ORDER BY …), which sorts
    # per group and costs several times the rest of the aggregate
    parts.append("CASE WHEN count(l.record_system) > 0 THEN array_to_string(list_sort("
                 "list_distinct(list(l.record_system))), ',') END AS systems")
    parts.append("count(*) AS records")
    cmp = {"name": "l.name_folded", "birth_date": "l.birth_date", "gender": "l.gender"}
    # more than one distinct non-null value ⇔ min < max: no DISTINCT aggregate needed
    flags = ", ".join(f"CASE WHEN min({cmp[c]}) < max({cmp[c]}) THEN '{c}' END"
                      for c in CONFLICTING)
    parts.append(f"NULLIF(concat_ws(',', {flags}), '') AS conflicts")
    parts.append("any_value(l.merged_into) AS merged_into")
    cols = ["citizen_id"]
    for f in SURVIVING:
        cols += [f"__{f}.v AS {f}", f"__{f}.s AS {f}_source"]
    cols += ["division", "systems", "records", "conflicts", "merged_into"]
    return (f"SELECT {', '.join(cols)} FROM (SELECT {', '.join(parts)} FROM {source} "
            "GROUP BY l.citizen_id)")


def build_master(cfg: HubConfig, ledger: Any, *, run_id: str, full: bool = False
                 ) -> MasterReport:
    """Link this run's staged person records and stage the changed master rows.

    ``full`` recomputes every person from the published links (after a change of the
    survivorship settings or a steward's decision) instead of only those touched. DuckDB
    reads the staged and published files and writes the changed rows' staged files
    itself, so memory is bounded by ``duckdb.memory_limit`` (it spills beyond it), not by
    the number of persons.
    """
    from hrss_hub.master.review import accepted_merges
    from hrss_hub.supervision.duck import connect, register

    standard = load_standard(cfg.standard_dir)
    report = MasterReport()
    link_schema = _link_schema(standard)
    cols = ", ".join(f'"{f.name}"' for f in link_schema)
    con = connect(cfg)
    try:
        have = register(con, exchange_store(cfg), ("person_link", "person_master", *LINKED))
        con.execute(f"CREATE TEMP TABLE fresh AS {staged_links_sql(cfg, standard)}")
        report.records = _count(con, "fresh")
        if "person_link" in have:
            con.execute(f"CREATE TEMP VIEW old_links AS SELECT {cols} FROM person_link")
        else:
            con.execute("CREATE TEMP VIEW old_links AS SELECT * FROM fresh WHERE false")
        report.unlinked = _link_published(con, cfg, link_schema, [e for e in LINKED
                                                                  if e in have])
        if "person_link" in have:
            con.execute("CREATE TEMP TABLE links AS SELECT * FROM fresh UNION ALL "
                        "SELECT o.* FROM old_links o ANTI JOIN fresh n "
                        "USING (record_entity, record_system, record_key)")
        else:  # a first build: every link is fresh, no copy of them
            con.execute("CREATE TEMP VIEW links AS SELECT * FROM fresh")
        report.adopted = _adopt_quarantined(con, ledger, cfg, link_schema,
                                            links_table="person_link" in have)
        merges = accepted_merges(ledger, con)
        con.register("merges_arrow", merges)
        con.execute("CREATE TEMP TABLE merges AS SELECT * FROM merges_arrow")
        con.unregister("merges_arrow")
        if full:
            con.execute("CREATE TEMP TABLE affected AS SELECT DISTINCT citizen_id FROM links")
        else:
            con.execute("CREATE TEMP TABLE affected AS "
                        "SELECT citizen_id FROM fresh UNION "
                        "SELECT o.citizen_id FROM old_links o SEMI JOIN fresh n "
                        "USING (record_entity, record_system, record_key) UNION "
                        "SELECT citizen_id FROM merges UNION SELECT merged_into FROM merges")
        con.execute(f"CREATE TEMP TABLE single AS {SINGLE_SQL}")
        # names are compared for the persons with several links only
        fold_into(con, "SELECT l.name FROM links l SEMI JOIN affected a USING (citizen_id) "
                       "ANTI JOIN single s USING (citizen_id)")
        master_cols = [f.name for f in entity_schema(standard.entity("person_master"))
                       if f.name not in BUILD_COLUMNS]
        con.execute("CREATE TEMP TABLE master_new AS SELECT "
                    + ", ".join(f'"{c}"' for c in master_cols)
                    + f" FROM (SELECT *, '{SYSTEM}' AS source_system, citizen_id AS source_key"
                    f" FROM ({master_sql(cfg)}))")
        report.persons = _count(con, "master_new")
        report.conflicts = _count(con, "master_new", "conflicts IS NOT NULL")
        report.staged_links = stage_query(
            cfg, con, standard.entity("person_link"),
            _changed(con, "fresh", "old_links" if "person_link" in have else None,
                     list(link_schema.names)),
            run_id=run_id, system=SYSTEM, stream="links", standard_version=standard.version)
        compare = [c for c in master_cols if c not in BUILD_COLUMNS]
        report.staged_persons = stage_query(
            cfg, con, standard.entity("person_master"),
            _changed(con, "master_new", "person_master" if "person_master" in have else None,
                     compare),
            run_id=run_id, system=SYSTEM, stream="persons", standard_version=standard.version)
    finally:
        con.close()
    return report


def _adopt_quarantined(con: duckdb.DuckDBPyConnection, ledger: Any, cfg: HubConfig,
                       schema: pa.Schema, *, links_table: bool) -> int:
    """Link the quarantined person records (invalid or missing ID) of accepted reviews to
    the person of their partner: new rows of ``fresh`` and ``links`` (a table, or a view
    of ``fresh`` unless ``links_table``; rule ``steward``, or ``auto`` above the automatic
    threshold). Returns how many."""
    from hrss_hub.master.review import AUTO_REASON, ReviewStore, split_record

    files = quarantine_of(cfg.quarantine_dir)
    reviews = ReviewStore(ledger).all("accepted") if files else []
    sides: dict[str, list[Any]] = {c: [] for c in (
        "entity", "system", "key", "other_entity", "other_system", "other_key",
        "probability", "rule")}
    for r in reviews:
        rule = "auto" if r.reason == AUTO_REASON else "steward"
        for ours, other in ((r.left, r.right), (r.right, r.left)):
            for name, value in zip(("entity", "system", "key", "other_entity", "other_system",
                                    "other_key", "probability", "rule"),
                                   (*split_record(ours), *split_record(other),
                                    r.probability, rule), strict=True):
                sides[name].append(value)
    if not reviews:
        return 0
    con.register("__accepted", pa.table(sides))
    values = {
        "record_entity": "a.entity", "record_system": "a.system", "record_key": "a.key",
        "citizen_id": "o.citizen_id", "link_rule": "a.rule",
        "match_probability": "round(a.probability, 4)", "name": "q.name",
        "gender": "q.gender", "birth_date": "q.birth_date", "phone": "q.phone",
        "record_updated_at": "NULL",
        "division": f"coalesce(q.division, {sql_literal(cfg.division)})",
        "source_system": "a.system", "source_key": "a.key"}
    cols = ", ".join(f'CAST({values[f.name]} AS {duck_type(f.type)}) AS "{f.name}"'
                     for f in schema)
    con.execute(f"""
        CREATE TEMP TABLE __adopted AS
        SELECT DISTINCT ON (a.entity, a.system, a.key) {cols}
        FROM __accepted a
        JOIN links o ON o.record_entity = a.other_entity AND o.record_system = a.other_system
                    AND o.record_key = a.other_key
        JOIN ({quarantined_persons_sql(files)}) q
          ON a.entity = 'person' AND q.system = a.system AND q.source_key = a.key
        WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.record_entity = a.entity
                          AND l.record_system = a.system AND l.record_key = a.key)
        ORDER BY a.entity, a.system, a.key, a.probability DESC""")
    con.unregister("__accepted")
    con.execute("INSERT INTO fresh SELECT * FROM __adopted")
    if links_table:
        con.execute("INSERT INTO links SELECT * FROM __adopted")
    return _count(con, "__adopted")


def fold_into(con: duckdb.DuckDBPyConnection, names_sql: str, table: str = "folded",
              chunk: int = 100_000) -> None:
    """Create ``table`` (``name`` → ``name_folded``) for the distinct non-null names that
    ``names_sql`` selects (a column ``name``), folded ``chunk`` names at a time."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (name VARCHAR, name_folded VARCHAR)")
    distinct = con.sql(f"SELECT DISTINCT name FROM ({names_sql}) WHERE name IS NOT NULL"
                       ).to_arrow_table()["name"]
    for start in range(0, len(distinct), chunk):
        con.register("__fold_chunk", fold_table(distinct.slice(start, chunk)))
        con.execute(f"INSERT INTO {table} SELECT name, name_folded FROM __fold_chunk")
        con.unregister("__fold_chunk")


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> int:
    rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchall()
    return int(rows[0][0])


def _changed(con: duckdb.DuckDBPyConnection, new: str, old: str | None,
             columns: list[str]) -> str:
    """A SELECT of the rows of ``new`` whose ``columns`` differ from every row of ``old``
    (all: no old)."""
    listed = ", ".join(f'"{c}"' for c in columns)
    if old is None:
        return f"SELECT * FROM {new}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE __keep AS "
                f"SELECT {listed} FROM {new} EXCEPT SELECT {listed} FROM {old}")
    on = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM k."{c}"' for c in columns)
    return f"SELECT n.* FROM {new} n SEMI JOIN __keep k ON {on}"

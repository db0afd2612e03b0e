"""Person records the row gate quarantined for their citizen ID (invalid or missing).

They never reach the exchange, but they are records of a person all the same: record
linkage compares them with the master (:mod:`.linkage`), and a pair a steward accepts links
such a record to the person of its partner (:mod:`.build`, link rule ``steward`` or
``auto``). A quarantine file keeps each record's mapped row as JSON; its attributes are
read from there by DuckDB, the latest quarantine of each (system, source key) winning.
"""

from __future__ import annotations

from pathlib import Path


def quarantined_persons_sql(files: list[Path]) -> str:
    """A SELECT of ``system``, ``source_key``, ``name``, ``gender``, ``birth_date``,
    ``phone``, ``division`` of the person records quarantined for a problem of their
    ``citizen_id`` in ``files`` (empty: a SELECT of no row)."""
    if not files:
        return ("SELECT NULL::VARCHAR AS system, NULL::VARCHAR AS source_key, "
                "NULL::VARCHAR AS name, NULL::VARCHAR AS gender, NULL::DATE AS birth_date, "
                "NULL::VARCHAR AS phone, NULL::VARCHAR AS division WHERE false")
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    return f"""
        SELECT DISTINCT ON (q.system, q.source_key) q.system, q.source_key,
               json_extract_string(q.record, '$.name') AS name,
               json_extract_string(q.record, '$.gender') AS gender,
               TRY_CAST(json_extract_string(q.record, '$.birth_date') AS DATE) AS birth_date,
               json_extract_string(q.record, '$.phone') AS phone,
               coalesce(json_extract_string(q.record, '$.address_division'),
                        json_extract_string(q.record, '$.division')) AS division
        FROM read_parquet([{listed}], union_by_name = true) q
        WHERE q.entity = 'person' AND list_contains(q.fields, 'citizen_id')
          AND q.source_key IS NOT NULL
        ORDER BY q.system, q.source_key, q.run_id DESC"""


def quarantine_of(quarantine_dir: Path | None) -> list[Path]:
    """Every quarantine file of the workspace (none without a quarantine folder)."""
    from hrss_hub.quality.reprocess import quarantine_files

    return [] if quarantine_dir is None else quarantine_files(quarantine_dir)

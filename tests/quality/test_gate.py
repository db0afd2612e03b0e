"""The row gate: verdicts, cross-field rules, duplicates across batches, quarantine rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from hrss_hub.exchange.layout import entity_schema
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.quality.gate import QUARANTINE_SCHEMA, RowGate
from hrss_hub.standard.model import load_standard

STD = load_standard()
EMPLOYMENT = {
    "entity": "employment",
    "source_key": ["no"],
    "fields": {
        "citizen_id": "idno",
        "employer_uscc": "uscc",
        "start_date": {"from": "start", "normalize": "date"},
        "end_date": {"from": "end", "normalize": "date"},
    },
}
PERSON = {
    "entity": "person",
    "source_key": ["no"],
    "fields": {"citizen_id": "idno", "id_type": {"const": "01"}, "name": "name",
               "gender": {"from": "sex", "map": {"男": "1", "女": "2"}},
               "birth_date": {"from": "born", "normalize": "date"}},
}


def gate(mapping: dict) -> tuple:
    compiled = compile_mapping(parse_mapping(mapping, "x.yaml", "m"), STD)
    g = RowGate(compiled.entity, STD, "run-1", "sys", "stream", datetime(2026, 1, 1, tzinfo=UTC))
    return compiled, g


def employment_batch(rows: list[tuple[str, str, str, str, str | None]]) -> pa.RecordBatch:
    no, idno, uscc, start, end = (list(c) for c in zip(*rows, strict=True))
    return pa.RecordBatch.from_pydict({
        "no": no, "idno": idno, "uscc": uscc, "start": start, "end": end,
        "_location": [f"f.csv:{i + 2}" for i in range(len(rows))]})


def test_end_before_start_and_duplicates_across_batches() -> None:
    compiled, g = gate(EMPLOYMENT)
    uscc = "91350100M000100Y43"
    first = employment_batch([
        ("1", "11010519491231002X", uscc, "2023/1/5", "2024/1/4"),
        ("2", "34052419800101001X", uscc, "2023/3/1", "2023/2/1"),   # ends before it starts
        ("3", "11010519491231002X", uscc, "2023/1/5", None),          # same key as row 1
    ])
    r1 = g.evaluate(compiled.apply(first))
    assert r1.published.num_rows == 1
    assert dict(r1.rule_counts) == {"end_before_start": 1, "duplicate_key": 1}
    q = r1.quarantined
    assert q.schema == QUARANTINE_SCHEMA
    assert q.column("location").to_pylist() == ["f.csv:3", "f.csv:4"]
    assert q.column("rules").to_pylist() == [["end_before_start"], ["duplicate_key"]]
    # a later batch of the same run repeating the key is a duplicate too
    r2 = g.evaluate(compiled.apply(employment_batch([
        ("4", "11010519491231002X", uscc, "2023-01-05", None)])))
    assert r2.published.num_rows == 0 and dict(r2.rule_counts) == {"duplicate_key": 1}


def test_lineage_columns_on_published_rows() -> None:
    compiled, g = gate(EMPLOYMENT)
    r = g.evaluate(compiled.apply(employment_batch([
        ("9", "11010519491231002X", "91350100M000100Y43", "20230105", None)])))
    row = r.published.to_pylist()[0]
    assert row["source_system"] == "sys" and row["source_key"] == "9"
    assert row["run_id"] == "run-1" and row["extracted_at"].year == 2026
    # the exchange schema: the standard's lineage plus source_updated_at (which record wins)
    assert r.published.schema == entity_schema(compiled.entity)
    assert row["source_updated_at"] is None  # no update time given with the batch


def test_gender_and_birth_date_against_the_id() -> None:
    compiled, g = gate(PERSON)
    batch = pa.RecordBatch.from_pydict({
        "no": ["1", "2", "3", "4"],
        "idno": ["11010519491231002X", "11010519491231002X", "34052419800101001X",
                 "110105194912310021"],
        "name": ["甲", "乙", "丙", "丁"],
        "sex": ["女", "男", "男", "男"],
        "born": ["1949-12-31", "1949-12-31", "1980-01-02", "1949-12-31"],
    })
    r = g.evaluate(compiled.apply(batch))
    rules = r.quarantined.column("rules").to_pylist()
    # row 2: male but even sequence digit; row 3: born a day later than its ID; row 4: a bad
    # checksum fires citizen_id_invalid only (cross-field rules need a valid ID)
    assert rules == [["gender_id_mismatch"], ["birth_date_id_mismatch"], ["citizen_id_invalid"]]
    assert r.published.num_rows == 1


def test_citizen_ids_are_validated_once_per_batch_across_cross_field_rules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """gender_id_mismatch and birth_date_id_mismatch both compare against the batch's
    citizen IDs: the IDs are validated once, and the verdicts are those of a fresh run."""
    from hrss_hub.standard import identifiers

    calls: list[int] = []
    real = identifiers.validate_citizen_ids

    def counting(values: object, **kw: object) -> pa.StructArray:
        calls.append(len(values))  # type: ignore[arg-type]
        return real(values, **kw)  # type: ignore[arg-type]

    compiled, g = gate(PERSON)
    batch = pa.RecordBatch.from_pydict({
        "no": ["1", "2", "3"],
        "idno": ["11010519491231002X", "11010519491231002X", "110105194912310021"],
        "name": ["甲", "乙", "丙"], "sex": ["女", "男", "女"],
        "born": ["1949-12-31", "1950-01-01", "1949-12-31"],
        "_location": ["a", "b", "c"]})
    mapped = compiled.apply(batch)
    expected = g.evaluate(mapped).rule_counts
    monkeypatch.setattr(identifiers, "validate_citizen_ids", counting)
    _, fresh = gate(PERSON)
    got = fresh.evaluate(compiled.apply(batch)).rule_counts
    assert got == expected and expected["gender_id_mismatch"] == 1
    assert len(calls) == 1

"""The hub's one key encoding: injective (hypothesis), readable, vectorized = scalar."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrss_hub import keys

#: parts drawn to hit the escapes: separators, backslashes and "N" are over-represented
PART = st.one_of(st.none(), st.text(alphabet=st.sampled_from(["|", "\\", "N", "A", "张"]),
                                    max_size=6), st.text(max_size=8))
KEY = st.lists(PART, min_size=1, max_size=4).map(tuple)


@given(KEY)
def test_decode_inverts_encode(parts: tuple[str | None, ...]) -> None:
    assert keys.decode(keys.encode(parts)) == parts


@given(KEY, KEY)
def test_distinct_tuples_never_encode_equal(a: tuple[str | None, ...],
                                            b: tuple[str | None, ...]) -> None:
    if a != b:
        assert keys.encode(a) != keys.encode(b)


@settings(max_examples=200)
@given(st.integers(min_value=1, max_value=3).flatmap(
    lambda width: st.lists(st.tuples(*[PART] * width), min_size=1, max_size=30)))
def test_vectorized_equals_scalar_reference(rows: list[tuple[str | None, ...]]) -> None:
    columns = [pa.array([r[i] for r in rows], pa.string()) for i in range(len(rows[0]))]
    encoded = keys.encode_columns(columns).to_pylist()
    assert encoded == [keys.encode(r) for r in rows]
    # distinct rows, distinct keys: what the gate's duplicate detection relies on
    assert len(set(encoded)) == len(set(rows))


def test_the_collision_of_the_first_version_is_gone() -> None:
    left = keys.encode_columns([pa.array(["A|B"]), pa.array(["C"])])
    right = keys.encode_columns([pa.array(["A"]), pa.array(["B|C"])])
    assert left.to_pylist() == ["A\\|B|C"] and right.to_pylist() == ["A|B\\|C"]


def test_simple_keys_read_as_stewards_type_them() -> None:
    assert keys.encode(["P001"]) == "P001"
    assert keys.encode(["P001", "2024-05"]) == "P001|2024-05"
    assert keys.encode(["110105194912310021"]) == "110105194912310021"


def test_null_and_empty_parts_differ() -> None:
    assert keys.encode([None]) == "\\N" and keys.encode([""]) == ""
    assert keys.encode(["\\N"]) == "\\\\N"  # a literal backslash-N is escaped
    assert keys.decode("\\N|") == (None, "")


def test_typed_columns_encode_through_arrow_text() -> None:
    table = pa.table({
        "i": pa.array([1, None], pa.int64()),
        "d": pa.array([Decimal("1000.50"), Decimal("2.00")], pa.decimal128(12, 2)),
        "t": pa.array([dt.datetime(2024, 3, 1, 8, 30), None], pa.timestamp("us")),
        "day": pa.array([dt.date(2024, 3, 1), dt.date(2024, 3, 2)], pa.date32()),
    })
    assert keys.encode_table(table, ["i", "d", "t", "day"]).to_pylist() == [
        "1|1000.50|2024-03-01 08:30:00.000000|2024-03-01", "\\N|2.00|\\N|2024-03-02"]
    chunked = pa.chunked_array([pa.array(["x|y"]), pa.array(["z"])])
    assert keys.encode_columns([chunked]).to_pylist() == ["x\\|y", "z"]


@pytest.mark.parametrize("text", ["a\\", "a\\x", "a\\N", "\\Nb"])
def test_decode_refuses_text_no_key_encodes_to(text: str) -> None:
    with pytest.raises(ValueError, match="key"):
        keys.decode(text)


def test_composite_source_keys_and_gate_keys_no_longer_collide() -> None:
    """Defect 15 where keys are used: the mapping's source_key and the gate's duplicates."""
    import dataclasses
    from datetime import UTC, datetime

    from hrss_hub.mapping import compile_mapping, parse_mapping
    from hrss_hub.quality.gate import RowGate
    from hrss_hub.standard.model import load_standard

    std = load_standard()
    mapping = {"entity": "person", "source_key": ["a", "b"],
               "fields": {"citizen_id": "idno", "id_type": {"const": "01"}, "name": "a",
                          "phone": "b", "gender": {"const": "2"},
                          "birth_date": {"const": "1949-12-31", "normalize": "date"}}}
    compiled = compile_mapping(parse_mapping(mapping, "x.yaml", "m"), std)
    batch = pa.RecordBatch.from_pydict({
        "a": ["A|B", "A"], "b": ["C", "B|C"],
        "idno": ["11010519491231002X", "11010519491231002X"],
        "_location": ["f.csv:2", "f.csv:3"]})
    mapped = compiled.apply(batch)
    assert mapped.source_key.to_pylist() == ["A\\|B|C", "A|B\\|C"]
    # an entity keyed by two text fields (a workspace profile may declare one)
    entity = dataclasses.replace(compiled.entity, key=("name", "phone"))
    gate = RowGate(entity, std, "run-1", "sys", "s", datetime(2026, 1, 1, tzinfo=UTC))
    verdict = gate.evaluate(mapped)
    assert "duplicate_key" not in verdict.rule_counts
    assert verdict.published.num_rows == 2

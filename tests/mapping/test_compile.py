"""The mapping engine against the bundled standard: expressions, normalizers, rule firing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from hrss_hub.errors import ConfigError, MappingError
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.mapping.compile import MappedBatch
from hrss_hub.standard.model import load_standard

STD = load_standard()

PERSON_MAPPING = {
    "entity": "person",
    "source_key": ["AAC001"],
    "fields": {
        "citizen_id": {"from": "AAC002", "normalize": "citizen_id"},
        "citizen_id_raw": {"from": "AAC002"},
        "id_type": {"const": "01"},
        "name": {"from": "AAC003", "normalize": "name"},
        "name_raw": {"from": "AAC003"},
        "gender": {"from": "AAC004", "map": {"1": "1", "2": "2", "男": "1", "女": "2"},
                   "fallback": "quarantine"},
        "ethnicity": {"from": "AAC005"},
        "birth_date": {"from": "AAC006", "normalize": "date", "formats": ["%Y%m%d"]},
    },
}


def person_batch(rows: list[tuple[str | None, ...]]) -> pa.RecordBatch:
    cols = list(zip(*rows, strict=True))
    names = ["AAC001", "AAC002", "AAC003", "AAC004", "AAC005", "AAC006"]
    arrays = [pa.array(list(c), pa.string()) for c in cols]
    arrays.append(pa.array([f"AC01[AAC001={r[0]}]" for r in rows], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=[*names, "_location"])


def rules_of(mapped, row: int) -> set[str]:
    return {f.rule for f in mapped.failures if f.mask[row].as_py()}


def compiled(mapping: dict = PERSON_MAPPING):
    return compile_mapping(parse_mapping(mapping, "si_core.yaml", "streams.AC01.mapping"), STD)


def test_clean_row_maps_every_field() -> None:
    batch = person_batch([("1", "11010519491231002x", "阿依古丽•买买提", "2", "57", "19491231")])
    mapped = compiled().apply(batch)
    assert mapped.columns["citizen_id"].to_pylist() == ["11010519491231002X"]
    assert mapped.columns["citizen_id_raw"].to_pylist() == ["11010519491231002x"]
    assert mapped.columns["name"].to_pylist() == ["阿依古丽·买买提"]
    assert mapped.columns["name_raw"].to_pylist() == ["阿依古丽•买买提"]
    assert mapped.columns["gender"].to_pylist() == ["2"]
    assert mapped.columns["ethnicity"].to_pylist() == ["97"]  # 57 is an input alias of 97
    assert mapped.columns["birth_date"].to_pylist() == [dt.date(1949, 12, 31)]
    assert rules_of(mapped, 0) == set()
    assert mapped.source_key.to_pylist() == ["1"]
    assert mapped.location.to_pylist() == ["AC01[AAC001=1]"]


def test_legacy_15_digit_id_is_upgraded() -> None:
    mapped = compiled().apply(person_batch([("7", "610104620927690", "张三", "1", "01",
                                             "19620927")]))
    assert mapped.columns["citizen_id"].to_pylist() == ["610104196209276908"]
    assert rules_of(mapped, 0) == set()


@pytest.mark.parametrize(("row", "rule"), [
    (("2", "110105194912310021", "王五", "2", "01", "19491231"), "citizen_id_invalid"),
    (("3", "11010519491231002X", "王五", "9x", "01", "19491231"), "code_unmapped"),
    (("4", "11010519491231002X", "王五", "2", "99x", "19491231"), "code_unknown"),
    (("5", "11010519491231002X", "王五", "2", "01", "19490231"), "date_invalid"),
    (("6", "11010519491231002X", None, "2", "01", "19491231"), "required_missing"),
    (("7", "11010519491231002X", "  ", "2", "01", "19491231"), "required_missing"),
])
def test_each_parse_rule_fires_alone(row: tuple[str | None, ...], rule: str) -> None:
    mapped = compiled().apply(person_batch([row]))
    assert rules_of(mapped, 0) == {rule}


def test_unknown_target_field_names_path_and_suggestion() -> None:
    bad = {**PERSON_MAPPING, "fields": {**PERSON_MAPPING["fields"], "birthdate": "AAC006"}}
    with pytest.raises(ConfigError) as info:
        compiled(bad)
    text = str(info.value)
    assert "birthdate" in text and "birth_date" in text and "si_core.yaml" in text


def test_missing_required_mapping_is_an_error() -> None:
    fields = dict(PERSON_MAPPING["fields"])
    del fields["birth_date"]
    with pytest.raises(MappingError, match="birth_date"):
        compiled({**PERSON_MAPPING, "fields": fields})


def test_unknown_normalizer_lists_the_valid_ones() -> None:
    bad = {**PERSON_MAPPING, "fields": {**PERSON_MAPPING["fields"],
                                        "name": {"from": "AAC003", "normalize": "nmae"}}}
    with pytest.raises(ConfigError, match="did you mean 'name'"):
        compiled(bad)


def test_missing_source_column_is_reported() -> None:
    batch = person_batch([("1", "11010519491231002X", "王", "2", "01", "19491231")])
    batch = batch.drop_columns(["AAC006"])
    with pytest.raises(MappingError, match="AAC006"):
        compiled().apply(batch)


def test_contribution_amounts_expr_concat_and_filters() -> None:
    mapping = {
        "entity": "contribution",
        "source_key": ["id"],
        "filter": [{"column": "status", "in": ["1"]}],
        "fields": {
            "citizen_id": "idno",
            "employer_uscc": "uscc",
            "insurance_type": "kind",
            "period": {"from": "month", "normalize": "period"},
            "base": {"from": "base", "normalize": "amount"},
            "personal_amount": {"expr": "base * 0.08"},
            "employer_amount": {"from": "fen", "normalize": "amount", "unit": "fen"},
            "division": {"const": "510107"},
        },
    }
    batch = pa.RecordBatch.from_pydict({
        "id": ["a", "b"], "idno": ["11010519491231002X"] * 2,
        "uscc": ["91350100M000100Y43"] * 2, "kind": ["110", "110"], "month": ["202301", "202302"],
        "base": ["6,000.00", "5000"], "fen": ["96000", "80000"], "status": ["1", "2"],
    })
    mapped = compiled(mapping).apply(batch)
    assert mapped.columns["base"].to_pylist() == [Decimal("6000.00"), Decimal("5000.00")]
    assert mapped.columns["personal_amount"].to_pylist() == [Decimal("480.00"), Decimal("400.00")]
    assert mapped.columns["employer_amount"].to_pylist() == [Decimal("960.00"), Decimal("800.00")]
    assert mapped.filtered.to_pylist() == [False, True]
    assert mapped.columns["division"].to_pylist() == ["510107", "510107"]


def _contribution_expr(expr: str, **columns: list[object]) -> MappedBatch:
    mapping = {
        "entity": "contribution",
        "source_key": ["id"],
        "fields": {"citizen_id": "idno", "employer_uscc": "uscc", "insurance_type": "kind",
                   "period": {"from": "month", "normalize": "period"},
                   "base": {"from": "base", "normalize": "amount"},
                   "personal_amount": {"expr": expr}, "division": {"const": "510107"}},
    }
    n = len(next(iter(columns.values())))
    data: dict[str, list[object]] = {
        "id": [str(i) for i in range(n)], "idno": ["11010519491231002X"] * n,
        "uscc": ["91350100M000100Y43"] * n, "kind": ["110"] * n, "month": ["202301"] * n,
        "base": ["1.00"] * n}
    data.update(columns)
    return compiled(mapping).apply(pa.RecordBatch.from_pydict(data))


@pytest.mark.parametrize(("source", "expr", "expected"), [
    # float64 gives 33.92 (33.925 is 33.92499… in binary, then half-to-even)
    (["6785.00"], "AAE180 * 0.005", "33.93"),
    (["6785.00"], "AAE180 * 0.005 * -1", "-33.93"),  # half away from zero, both signs
    (["2.675"], "AAE180 * 1", "2.68"),                # float64 rounds this to 2.67
    (["1.005"], "AAE180 + 0", "1.01"),
    (["0.125"], "AAE180 - 0", "0.13"),                # half-to-even would give 0.12
    (["0.124999"], "AAE180 * 1", "0.12"),
    (["10"], "AAE180 / 3", "3.33"),
    (["20"], "AAE180 / 3", "6.67"),
    (["6,785.00"], "(AAE180 + 0.005) * 1", "6785.01"),
])
def test_expr_money_is_decimal_rounded_half_up(source: list[object], expr: str,
                                               expected: str) -> None:
    mapped = _contribution_expr(expr, AAE180=source)
    assert mapped.columns["personal_amount"].to_pylist() == [Decimal(expected)]
    assert not [f for f in mapped.failures if f.field == "personal_amount" and
                any(f.mask.to_pylist())]


def test_expr_over_decimal_int_and_float_sources() -> None:
    dec = pa.array([Decimal("6785.00"), Decimal("-6785.00")], pa.decimal128(12, 2))
    mapped = _contribution_expr("AAE180 * 0.005", AAE180=dec.to_pylist())
    assert mapped.columns["personal_amount"].to_pylist() == [Decimal("33.93"), Decimal("-33.93")]
    mapped = _contribution_expr("AAE180 * 0.005", AAE180=[6785, 1])
    assert mapped.columns["personal_amount"].to_pylist() == [Decimal("33.93"), Decimal("0.01")]
    mapped = _contribution_expr("AAE180 * 0.005", AAE180=[6785.0, 2.5])
    assert mapped.columns["personal_amount"].to_pylist() == [Decimal("33.93"), Decimal("0.01")]


def test_expr_text_that_is_not_a_number_is_quarantined_per_row() -> None:
    mapped = _contribution_expr("AAE180 * 0.08",
                                AAE180=["6000", "abc", "1.1234567", None, "1e3"])
    assert mapped.columns["personal_amount"].to_pylist() == [Decimal("480.00"), None, None,
                                                             None, None]
    (fail,) = [f for f in mapped.failures if f.rule == "value_invalid"
               and f.field == "personal_amount"]
    assert fail.mask.to_pylist() == [False, True, True, False, True]
    assert fail.offending.to_pylist()[1] == "abc"
    # a column of plain numbers takes the fast path with the same result
    fast = _contribution_expr("AAE180 * 0.08", AAE180=["6000", "1,000.5", " 7 "])
    assert fast.columns["personal_amount"].to_pylist() == [
        Decimal("480.00"), Decimal("80.04"), Decimal("0.56")]
    only_exponent = _contribution_expr("AAE180 * 1", AAE180=["1e3"])
    assert only_exponent.columns["personal_amount"].to_pylist() == [None]


def test_expr_division_by_zero_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="Divide by zero"):
        _contribution_expr("AAE180 / 0", AAE180=["1"])


def test_raw_fields_are_kept_without_mapping_them() -> None:
    mapping = {**PERSON_MAPPING, "fields": {k: v for k, v in PERSON_MAPPING["fields"].items()
                                            if not k.endswith("_raw")}}
    batch = person_batch([("1", "110105491231002", "阿依古丽•买买提", "2", "57", "19491231"),
                          ("2", " ", "李四", "1", "01", "19800101")])
    mapped = compiled(mapping).apply(batch)
    assert mapped.columns["citizen_id_raw"].to_pylist() == ["110105491231002", None]
    assert mapped.columns["citizen_id"].to_pylist()[0] == "11010519491231002X"
    assert mapped.columns["name_raw"].to_pylist() == ["阿依古丽•买买提", "李四"]
    assert mapped.columns["name"].to_pylist()[0] == "阿依古丽·买买提"


def test_raw_field_mapped_by_hand_wins_and_const_keeps_none() -> None:
    fields = {**PERSON_MAPPING["fields"], "citizen_id_raw": {"const": "by hand"},
              "name": {"const": "张三"}}
    fields.pop("name_raw")
    mapped = compiled({**PERSON_MAPPING, "fields": fields}).apply(
        person_batch([("1", "11010519491231002x", "x", "2", "57", "19491231")]))
    assert mapped.columns["citizen_id_raw"].to_pylist() == ["by hand"]
    assert mapped.columns["name_raw"].to_pylist() == [None]  # a constant has no source value


def _dates(formats: object, values: list[str | None]) -> MappedBatch:
    fields = {**PERSON_MAPPING["fields"], "birth_date": {"from": "AAC006", "normalize": "date",
                                                        **({"formats": formats} if formats
                                                           else {})}}
    rows = [(str(i), "11010519491231002X", "王芳", "2", "01", v) for i, v in enumerate(values)]
    return compiled({**PERSON_MAPPING, "fields": fields}).apply(person_batch(rows))


def test_date_formats_replace_or_add_to_the_builtin_forms() -> None:
    values = ["1949年12月31日", "31/12/1949"]
    builtin = _dates(None, values).columns["birth_date"].to_pylist()
    assert builtin == [dt.date(1949, 12, 31), None]
    replaced = _dates(["%d/%m/%Y"], values).columns["birth_date"].to_pylist()
    assert replaced == [None, dt.date(1949, 12, 31)]
    added = _dates(["%d/%m/%Y", "builtin"], values)
    assert added.columns["birth_date"].to_pylist() == [dt.date(1949, 12, 31)] * 2
    (fail,) = [f for f in added.failures if f.rule == "date_invalid"]
    assert fail.mask.to_pylist() == [False, False]

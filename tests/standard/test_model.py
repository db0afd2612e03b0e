"""Loading the bundled standard: entities, Arrow schemas, code lists, divisions, bounds."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from hrss_hub.config import bundled_standards_dir
from hrss_hub.errors import StandardError
from hrss_hub.standard.model import Standard, load_standard

ENTITIES = {"person", "employer", "employment", "insurance_enrollment", "contribution",
            "civil_status_event", "person_master", "person_link", "finding",
            "benefit_payment"}
LINEAGE = ["source_system", "source_key", "run_id", "extracted_at"]


@pytest.fixture(scope="module")
def std() -> Standard:
    return load_standard()


def test_every_entity_loads_with_lineage_columns(std: Standard) -> None:
    assert set(std.entities) == ENTITIES
    assert std.version == "1.1.0"
    for entity in std.entities.values():
        schema = entity.arrow_schema()
        assert schema.names[-4:] == LINEAGE, entity.name
        assert schema.field("extracted_at").type == pa.timestamp("us", tz="UTC")
        assert entity.arrow_schema(include_lineage=False).names == list(entity.field_names)
        for key in entity.key:
            assert not schema.field(key).nullable, (entity.name, key)


def test_field_types_map_to_arrow(std: Standard) -> None:
    contribution = std.entity("contribution").arrow_schema()
    assert contribution.field("base").type == pa.decimal128(18, 2)
    assert contribution.field("period").type == pa.string()
    assert contribution.field("paid_date").type == pa.date32()
    assert contribution.field("personal_amount").nullable
    assert std.entity("person").field("retired").arrow_type == pa.bool_()
    assert std.entity("employer").field("insured_headcount").arrow_type == pa.int64()
    assert std.entity("contribution").field("base").min == Decimal("0")


def test_unknown_entity_and_code_list_list_the_valid_ones(std: Standard) -> None:
    with pytest.raises(StandardError) as err:
        std.entity("persn")
    assert "person" in (err.value.hint or "")
    with pytest.raises(StandardError) as err2:
        std.code_list("gendr")
    assert "gender" in (err2.value.hint or "")
    with pytest.raises(StandardError):
        std.entity("person").field("nmae")


def test_rules_are_mappings_of_field_names(std: Standard) -> None:
    rule = std.entity("employment").rules_with_id("end_before_start")[0]
    assert rule["start"] == "start_date" and rule.get("end") == "end_date"
    assert rule["id"] == "end_before_start"
    person_rules = {r.id for r in std.entity("person").rules}
    assert person_rules == {"gender_id_mismatch", "birth_date_id_mismatch"}


def test_ethnicity_aliases_and_unknowns(std: Standard) -> None:
    ethnicity = std.code_list("ethnicity")
    codes, unknown = ethnicity.map_array(
        pa.array(["57", "58", "崩龙族", "毛难族", "基洛族", "汉族", " 01 ", "1", "火星族", None,
                  ""]))
    assert codes.to_pylist() == ["97", "98", "46", "36", "56", "01", "01", "01", None, None, None]
    assert unknown.to_pylist() == [False] * 8 + [True, False, False]
    assert ethnicity.code_system == "GB/T 3304-1991"


def test_gender_and_numeric_input(std: Standard) -> None:
    gender = std.code_list("gender")
    codes, unknown = gender.map_array(pa.array(["男", "女", "男性", "1", "5", "x"]))
    assert codes.to_pylist() == ["1", "2", "1", "1", None, None]
    assert unknown.to_pylist() == [False, False, False, False, True, True]
    # integers from a database column: 1 → "01" through the alias
    codes, _ = std.code_list("ethnicity").map_array(pa.array([1, 57], pa.int64()))
    assert codes.to_pylist() == ["01", "97"]
    chunked = pa.chunked_array([["男"], ["女", "?"]])
    codes, unknown = gender.map_array(chunked)
    assert codes.to_pylist() == ["1", "2", None]
    assert unknown.to_pylist() == [False, False, True]


def test_is_valid_array_accepts_only_canonical_codes(std: Standard) -> None:
    valid = std.code_list("gender").is_valid_array(pa.array(["1", "男", "5", None]))
    assert valid.to_pylist() == [True, False, False, True]


def test_code_lists_cover_the_reference(std: Standard) -> None:
    assert set(std.code_list("insurance_type").codes) == {
        "110", "120", "170", "210", "310", "320", "330", "340", "390", "410", "510"}
    assert set(std.code_list("enrollment_status").codes) == {"1", "2", "3"}
    assert len([c for c in std.code_list("ethnicity").codes if int(c) <= 56]) == 56
    assert set(std.code_list("industry").codes) == set("ABCDEFGHIJKLMNOPQRST")
    assert set(std.code_list("gender").codes) == {"0", "1", "2", "9"}
    hukou = std.code_list("hukou_type")
    assert hukou.map_value("居民户口") == "R1" and "2" in hukou.deprecated


def test_divisions_tree_and_history(std: Standard) -> None:
    d = std.divisions
    wuhou = d.get("510107")
    assert wuhou is not None and wuhou.level == "county" and wuhou.parent == "510100"
    chengdu = d.get("510100")
    assert chengdu is not None and chengdu.level == "prefecture" and chengdu.parent == "510000"
    sichuan = d.get("510000")
    assert sichuan is not None and sichuan.level == "province" and sichuan.parent is None
    assert d.is_known("510102") and not d.is_known("510102", include_historical=False)
    assert d.get("510103") is not None and d.get("510103").valid_to == 1990  # type: ignore[union-attr]
    assert "510102" in d.codes() and "510102" not in d.codes(include_historical=False)
    assert {"110000", "510000", "810000", "820000", "710000"} <= d.province_codes()
    assert len(d.province_codes()) == 34
    assert d.get("999999") is None
    known = d.is_known_array(pa.array(["510107", "510102", "999999", None]),
                             include_historical=False)
    assert known.to_pylist() == [True, False, False, None]
    assert std.code_list("divisions").map_value("武侯区") == "510107"


def test_bounds_prefix_lookup(std: Standard) -> None:
    b = std.contribution_bounds
    assert b.lookup("510107", 2023, "110") == (Decimal("4071"), Decimal("20355"))
    # Chengdu's own medical-insurance row beats Sichuan's
    chengdu_310 = b.lookup("510107", 2023, "310")
    assert chengdu_310 is not None and chengdu_310 != b.lookup("511002", 2023, "310")
    assert b.lookup("511002", 2023, "310") == (Decimal("4071"), Decimal("20355"))
    assert b.lookup("110105", 2023, "110") is None
    assert b.lookup("510107", 2018, "110") is None
    for year in range(2019, 2027):
        for itype in ("110", "210", "310", "410"):
            assert b.lookup("510107", year, itype) is not None


def test_bounds_arrays_match_scalar_lookup(std: Standard) -> None:
    b = std.contribution_bounds
    divisions = ["510107", "511002", "510107", "110105", None, "510100"]
    years = [2023, 2023, 2019, 2023, 2023, 2026]
    types = ["310", "310", "110", "110", "110", "310"]
    lo, hi = b.bounds_arrays(pa.array(divisions), pa.array(years), pa.array(types))
    assert lo.type == pa.decimal128(18, 2)
    for i, (div, year, itype) in enumerate(zip(divisions, years, types, strict=True)):
        expected = b.lookup(div, year, itype) if div else None
        got = (lo[i].as_py(), hi[i].as_py())
        assert got == (expected if expected else (None, None)), (div, year, itype)


def test_load_accepts_standards_folder_and_picks_highest_version(tmp_path: Path) -> None:
    root = tmp_path / "standards"
    shutil.copytree(bundled_standards_dir() / "v1", root / "v1")
    shutil.copytree(bundled_standards_dir() / "v1", root / "v2")
    (root / "v2" / "standard.yaml").write_text(
        (root / "v2" / "standard.yaml").read_text(encoding="utf-8").replace(
            'version: "1.1.0"', 'version: "2.0.0"'), encoding="utf-8")
    assert load_standard(root).version == "2.0.0"
    assert load_standard(root / "v1").version == "1.1.0"


def test_bad_standard_raises_listing_every_problem(tmp_path: Path) -> None:
    root = tmp_path / "v1"
    shutil.copytree(bundled_standards_dir() / "v1", root)
    gender = root / "codelists" / "gender.yaml"
    gender.write_text(gender.read_text(encoding="utf-8").replace("version:", "versoin:"),
                      encoding="utf-8")
    person = root / "entities" / "person.yaml"
    person.write_text(person.read_text(encoding="utf-8").replace(
        "code_list: ethnicity", "code_list: ethnicty"), encoding="utf-8")
    with pytest.raises(StandardError) as err:
        load_standard(root)
    text = str(err.value)
    # 3: the unknown key 'versoin', the then missing 'version', the unknown code list
    assert "versoin" in text and "ethnicty" in text and "3 problem(s)" in text


def test_cache_notices_edits(tmp_path: Path) -> None:
    root = tmp_path / "v1"
    shutil.copytree(bundled_standards_dir() / "v1", root)
    first = load_standard(root)
    assert load_standard(root) is first
    std_file = root / "standard.yaml"
    std_file.write_text(std_file.read_text(encoding="utf-8").replace(
        'version: "1.1.0"', 'version: "1.0.1"'), encoding="utf-8")
    assert load_standard(root).version == "1.0.1"


def test_v1_1_adds_civil_status_events_and_the_payment_serial_key(std: Standard) -> None:
    """1.1 is additive: a supplementary payment (补发) differs by its serial, and every
    1.0 entity key is unchanged except benefit_payment's, which only gains the serial."""
    assert std.entity("benefit_payment").key == ("citizen_id", "benefit_type", "period",
                                                  "payment_serial")
    events = std.entity("civil_status_event")
    assert events.key == ("citizen_id", "event_type", "event_date")
    assert set(std.code_list("civil_status_event_type").codes) == {"01", "02", "03", "04"}
    assert events.field("authority").required and events.field("division").required
    assert std.entity("person").key == ("citizen_id",)
    assert std.entity("finding").key == ("finding_id", "division")

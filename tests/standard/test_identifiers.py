"""Citizen ID / USCC / org code: known vectors, mutation properties, vectorized == scalar."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrss_hub.standard.identifiers import (
    CITIZEN_WEIGHTS,
    USCC_ALPHABET,
    IdentifierInputError,
    citizen_id_check_char,
    org_code_check_char,
    upgrade_citizen_id,
    uscc_check_char,
    validate_citizen_id,
    validate_citizen_ids,
    validate_org_code,
    validate_org_codes,
    validate_uscc,
    validate_usccs,
)

TODAY = date(2026, 1, 1)
PROVINCES = ["11", "13", "21", "32", "44", "46", "51", "54", "65", "71"]
DIGITS = "0123456789"

# --------------------------------------------------------------------------- strategies


@st.composite
def citizen_ids(draw: st.DrawFn) -> str:
    """A valid 18-digit citizen ID: known province, real birth date, computed check char."""
    address = draw(st.sampled_from(PROVINCES)) + draw(st.text(DIGITS, min_size=4, max_size=4))
    born = draw(st.dates(min_value=date(1850, 1, 1), max_value=TODAY))
    sequence = draw(st.text(DIGITS, min_size=3, max_size=3))
    body = f"{address}{born:%Y%m%d}{sequence}"
    return body + citizen_id_check_char(body)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    """A valid USCC: random alphabet chars around a valid embedded org code."""
    head = draw(st.text(USCC_ALPHABET, min_size=8, max_size=8))
    org_body = draw(st.text(USCC_ALPHABET, min_size=8, max_size=8))
    org = org_body + org_code_check_char(org_body)
    body = head + org
    return body + uscc_check_char(body)


def mutations(value: str, alphabet_at: Any) -> list[str]:
    """Every single-character substitution and adjacent transposition that changes ``value``."""
    out = []
    for i, old in enumerate(value):
        out += [value[:i] + c + value[i + 1 :] for c in alphabet_at(i) if c != old]
    for i in range(len(value) - 1):
        if value[i] != value[i + 1]:
            out.append(value[:i] + value[i + 1] + value[i] + value[i + 2 :])
    return out


# --------------------------------------------------------------------------- citizen ID


@pytest.mark.parametrize(
    ("value", "birth", "gender", "address"),
    [
        ("11010519491231002X", date(1949, 12, 31), "2", "110105"),
        ("34052419800101001X", date(1980, 1, 1), "1", "340524"),
        ("440524188001010014", date(1880, 1, 1), "1", "440524"),
    ],
)
def test_standard_examples_pass(value: str, birth: date, gender: str, address: str) -> None:
    result = validate_citizen_id(value)
    assert result.valid and result.reason is None
    assert (result.kind, result.birth_date, result.gender, result.address_code) == (
        "citizen",
        birth,
        gender,
        address,
    )


def test_check_char_appendix_b() -> None:
    assert citizen_id_check_char("34052419800101001") == "X"
    assert tuple(pow(2, 17 - i, 11) for i in range(17)) == CITIZEN_WEIGHTS


def test_legacy_upgrade() -> None:
    assert upgrade_citizen_id("610104620927690") == "610104196209276908"
    result = validate_citizen_id("610104620927690")
    assert result.valid and result.kind == "legacy15"
    assert result.normalized == "610104196209276908"
    assert result.upgraded_from == "610104620927690"
    assert result.birth_date == date(1962, 9, 27) and result.gender == "2"


@pytest.mark.parametrize("bad", ["6101046209276", "61010462092769X", "1234"])
def test_helpers_reject_bad_bodies(bad: str) -> None:
    with pytest.raises(IdentifierInputError):
        upgrade_citizen_id(bad)
    with pytest.raises(IdentifierInputError):
        citizen_id_check_char(bad)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("810000199408230021", "hmt_permit"),
        ("830000199201300022", "hmt_permit"),
        ("910344199001010016", "foreign_pr"),
    ],
)
def test_permit_kinds(value: str, kind: str) -> None:
    body = value[:17]
    value = body + citizen_id_check_char(body)
    result = validate_citizen_id(value)
    assert result.valid and result.kind == kind
    assert result.address_code == (None if kind == "foreign_pr" else value[:6])


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1101051949123100", "length"),
        ("11010519491231002X1", "length"),
        ("", "length"),
        ("1101051949123100AX", "charset"),
        ("11010519491231002Y", "charset"),
        ("1101051949123100X2", "charset"),  # X only as the check char
        ("61010462092769A", "charset"),
        ("11010519491231003X", "checksum"),
        ("1.10105E+17", "length"),  # Excel scientific notation
    ],
)
def test_structural_reasons(value: str, reason: str) -> None:
    result = validate_citizen_id(value)
    assert not result.valid and result.reason == reason


def _with_check(body: str) -> str:
    return body + citizen_id_check_char(body)


@pytest.mark.parametrize(
    "body",
    [
        "11010520230230001",  # Feb 30
        "11010519491331001",  # month 13
        "11010518491231001",  # before 1850
        "11010520991231001",  # future
        "11010520250229001",  # not a leap year
    ],
)
def test_date_reason(body: str) -> None:
    result = validate_citizen_id(_with_check(body), today=TODAY)
    assert result.reason == "date" and result.birth_date is None


def test_leap_day_is_fine() -> None:
    assert validate_citizen_id(_with_check("11010520000229001"), today=TODAY).valid


@pytest.mark.parametrize("province", ["10", "16", "20", "24", "39", "47", "55", "60", "70", "84"])
def test_address_reason(province: str) -> None:
    result = validate_citizen_id(_with_check(province + "010519900101001"), today=TODAY)
    assert result.reason == "address"


def test_known_divisions_flag_only() -> None:
    result = validate_citizen_id("11010519491231002X", known_divisions={"110101"})
    assert result.valid and result.division_known is False
    assert validate_citizen_id("11010519491231002X", known_divisions={"110105"}).division_known
    assert validate_citizen_id("810000199408230021", known_divisions=set()).division_known
    assert validate_citizen_id("11010519491231002X").division_known is None


@pytest.mark.parametrize(
    "variant",
    [
        "11010519491231002x",
        "11010519491231002Ｘ",
        "11010519491231002ｘ",
        "11010519491231002×",
        "11010519491231002х",  # Cyrillic
        "11010519491231002Х",  # Cyrillic capital
        "１１０１０５１９４９１２３１００２Ｘ",
        "110105 19491231 002X",
        "110105-19491231-002X",
        "'11010519491231002X",
        "11010519491231002X\t",
        " 11010519491231002X ",
    ],
)
def test_variants_normalize_to_valid(variant: str) -> None:
    result = validate_citizen_id(variant)
    assert result.valid and result.normalized == "11010519491231002X"
    assert result.input == variant


@settings(max_examples=100, deadline=None)
@given(citizen_ids())
def test_generated_ids_validate(value: str) -> None:
    assert validate_citizen_id(value, today=TODAY).valid
    row = validate_citizen_ids(pa.array([value]), today=TODAY)[0].as_py()
    assert row["valid"] and row["normalized"] == value


def _citizen_alphabet(i: int) -> str:
    return DIGITS + "X" if i == 17 else DIGITS


@settings(max_examples=40, deadline=None)
@given(citizen_ids())
def test_every_typo_is_a_checksum_failure(value: str) -> None:
    bad = mutations(value, _citizen_alphabet)
    # moving the X check char into the body is a charset failure, not a typo the check can see
    typos = [b for b in bad if "X" not in b[:17]]
    scalar = {validate_citizen_id(b, today=TODAY).reason for b in typos}
    assert scalar == {"checksum"}
    vector = validate_citizen_ids(pa.array(typos), today=TODAY).field("reason")
    assert set(vector.to_pylist()) == {"checksum"}
    for b in set(bad) - set(typos):
        assert validate_citizen_id(b).reason == "charset"


_MIXED = [
    "11010519491231002X",
    None,
    "610104620927690",
    "61010462092769A",
    "11010519491231003X",
    "11010520230230001" + citizen_id_check_char("11010520230230001"),
    "16010519900101001" + citizen_id_check_char("16010519900101001"),
    "810000199408230021",
    "910344199001010016",
    "１１０１０５１９４９１２３１００２ｘ",
    "阿依古丽买买提阿依古丽买买提阿依古丽",  # 18 non-ASCII chars
    "1101051949123100２X",
    "",
    "1.10105E+17",
    "610104621327690",  # legacy, month 13
    "11010519491231002X",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_MIXED), citizen_ids()), max_size=30))
def test_vectorized_equals_scalar(values: list[str | None]) -> None:
    known = {"110105", "610104"}
    table = validate_citizen_ids(
        pa.array(values, type=pa.string()), known_divisions=known, today=TODAY
    )
    for value, row in zip(values, table.to_pylist(), strict=True):
        if value is None:
            assert row is None
            continue
        expected = validate_citizen_id(value, known_divisions=known, today=TODAY).to_dict()
        expected.pop("input")
        expected["birth_date"] = (
            date.fromisoformat(expected["birth_date"]) if expected["birth_date"] else None
        )
        assert row == expected, value


def test_vectorized_handles_slices_and_chunks() -> None:
    arr = pa.array(["x", *_MIXED[:6]])
    sliced = validate_citizen_ids(arr.slice(1), today=TODAY)
    chunked = validate_citizen_ids(pa.chunked_array([arr[1:3], arr[3:]]), today=TODAY)
    assert sliced.to_pylist() == chunked.to_pylist()
    assert sliced.to_pylist()[0]["normalized"] == "11010519491231002X"
    assert len(validate_citizen_ids(pa.array([], pa.string()))) == 0
    assert validate_citizen_ids(pa.nulls(3, pa.string())).to_pylist() == [None] * 3


def test_vectorized_types() -> None:
    out = validate_citizen_ids(["11010519491231002X"])
    assert out.type.field("birth_date").type == pa.date32()
    assert out.type.field("valid").type == pa.bool_()
    assert out.type.field("reason").type == pa.string()


def test_vectorized_dates_relative_to_today() -> None:
    born = TODAY + timedelta(days=1)
    value = _with_check(f"110105{born:%Y%m%d}001")
    assert validate_citizen_ids([value], today=TODAY).field("reason").to_pylist() == ["date"]
    assert validate_citizen_ids([value], today=born).field("reason").to_pylist() == [None]


# --------------------------------------------------------------------------- USCC


def test_uscc_worked_example() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"
    result = validate_uscc("91350100M000100Y43")
    assert result.valid
    assert (result.registration_authority, result.category, result.division, result.org_code) == (
        "9",
        "1",
        "350100",
        "M000100Y4",
    )


def test_uscc_reasons() -> None:
    assert validate_uscc("91350211M0000XUF46").reason == "checksum"  # real Fujian anomaly
    assert validate_uscc("91350100M000100Y4").reason == "length"
    assert validate_uscc("91350100M0001OOY43").reason == "charset"  # letter O
    assert validate_uscc("91350100m000100y43").valid  # lower case is cleaned
    # a valid outer check around a broken org code
    body = "91350100M000100Y5"
    assert validate_uscc(body + uscc_check_char(body)).reason == "org_code_checksum"


def test_uscc_letter_prefixes() -> None:
    body = "Y1110000600037341"
    assert validate_uscc(body + uscc_check_char(body)).valid  # stdnum rejects these


@settings(max_examples=40, deadline=None)
@given(usccs())
def test_every_uscc_typo_is_a_checksum_failure(value: str) -> None:
    assert validate_uscc(value).valid
    typos = mutations(value, lambda _: USCC_ALPHABET)
    assert {validate_uscc(t).reason for t in typos} == {"checksum"}
    assert set(validate_usccs(pa.array(typos)).field("reason").to_pylist()) == {"checksum"}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            usccs(),
            st.none(),
            st.text(USCC_ALPHABET + "IOSVZ io-中", min_size=16, max_size=19),
            st.sampled_from(["91350211M0000XUF46", "９１３５０１００Ｍ０００１００Ｙ４３"]),
        ),
        max_size=20,
    )
)
def test_uscc_vectorized_equals_scalar(values: list[str | None]) -> None:
    rows = validate_usccs(pa.array(values, type=pa.string())).to_pylist()
    for value, row in zip(values, rows, strict=True):
        if value is None:
            assert row is None
        else:
            expected = validate_uscc(value).to_dict()
            expected.pop("input")
            assert row == expected, value


# --------------------------------------------------------------------------- org code


def test_org_code() -> None:
    assert org_code_check_char("M000100Y") == "4"
    assert validate_org_code("M000100Y-4").valid
    assert validate_org_code("M000100Y-4").normalized == "M000100Y4"
    assert validate_org_code("M000100Y-5").reason == "checksum"
    assert validate_org_code("M000100Y").reason == "length"
    assert validate_org_code("M000100Y-A").reason == "charset"
    pdy = validate_org_code("PDY00001-" + org_code_check_char("PDY00001"))
    assert pdy.valid and pdy.self_defined


@pytest.mark.parametrize(("body", "check"), [("D2143569", "X"), ("00000000", "0")])
def test_org_code_special_check_values(body: str, check: str) -> None:
    # C9 = 10 → X and C9 = 11 → 0
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    assert {10: "X", 11: "0"}[11 - total % 11] == check
    assert org_code_check_char(body) == check


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text("0123456789ABXPDY-x ", max_size=11)), max_size=20))
def test_org_vectorized_equals_scalar(values: list[str | None]) -> None:
    rows = validate_org_codes(pa.array(values, type=pa.string())).to_pylist()
    for value, row in zip(values, rows, strict=True):
        if value is None:
            assert row is None
        else:
            expected = validate_org_code(value).to_dict()
            expected.pop("input")
            assert row == expected, value

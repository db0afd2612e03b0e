"""Normalizers: width, identifier characters, names, dates, Excel serials, periods, amounts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrss_hub.errors import HubError
from hrss_hub.standard.normalize import (
    MIDDLE_DOT,
    clean_id_chars,
    excel_serial_to_date,
    fullwidth_to_halfwidth,
    normalize_id_chars,
    normalize_name,
    normalize_name_with_raw,
    parse_amount,
    parse_dates,
    parse_period,
    ymd_to_days,
)

UNIX = date(1970, 1, 1).toordinal()

# --------------------------------------------------------------------------- characters


def test_fullwidth_to_halfwidth() -> None:
    out = fullwidth_to_halfwidth(pa.array(["１２３ＡＢＣ　！", "abc", None, "﨎ｘ", "￥５"]))
    # U+FA0E is a CJK compatibility ideograph: NFKC would change it, we must not
    assert out.to_pylist() == ["123ABC !", "abc", None, "﨎x", "¥5"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("11010519491231002x", "11010519491231002X"),
        ("11010519491231002Ｘ", "11010519491231002X"),
        ("11010519491231002ｘ", "11010519491231002X"),
        ("11010519491231002×", "11010519491231002X"),
        ("11010519491231002х", "11010519491231002X"),  # Cyrillic small ha
        ("11010519491231002Х", "11010519491231002X"),  # Cyrillic capital ha
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("110105 1949-1231 002X", "110105194912310 02X".replace(" ", "")),
        ("110105\u300019491231\u00a0002X", "11010519491231002X"),
        ("110105—19491231－002X", "11010519491231002X"),
        ("'11010519491231002X", "11010519491231002X"),
        ("\t11010519491231002X\t\r\n", "11010519491231002X"),
        ("91350100m000100y43", "91350100M000100Y43"),
    ],
)
def test_normalize_id_chars_variants(raw: str, clean: str) -> None:
    assert normalize_id_chars(pa.array([raw, None])).to_pylist() == [clean, None]
    assert clean_id_chars(raw) == clean


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text("0123456789Xx×хХＸｘ１２ '-\t—\u3000\u00a0中A", max_size=20), max_size=15))
def test_id_chars_vectorized_equals_scalar(values: list[str]) -> None:
    # also exercises the "only dirty rows are cleaned" path: many drawn rows are already clean
    assert normalize_id_chars(pa.array(values, pa.string())).to_pylist() == [
        clean_id_chars(v) for v in values
    ]


def test_normalize_id_chars_keeps_clean_column_and_chunks() -> None:
    arr = pa.array(["11010519491231002X", "ABC"])
    assert normalize_id_chars(arr) is arr  # nothing to clean: no copy
    chunked = pa.chunked_array([["1x"], [None, " 2-3 "]])
    assert normalize_id_chars(chunked).to_pylist() == ["1X", None, "23"]
    assert normalize_id_chars(pa.array([1234, None])).to_pylist() == ["1234", None]


# --------------------------------------------------------------------------- names

DOT_VARIANTS = ["•", "∙", "・", "●", "．", ".", "。", "‧", " · ", "　·　"]


@pytest.mark.parametrize("dot", DOT_VARIANTS)
def test_name_dot_variants(dot: str) -> None:
    assert normalize_name([f"阿依古丽{dot}买买提"]).to_pylist() == ["阿依古丽·买买提"]


def test_names_from_real_encodings() -> None:
    name = "阿依古丽·买买提"
    from_gb18030 = name.encode("gb18030").decode("gb18030")
    # Python's gb2312 codec maps A1A4 to U+30FB (katakana middle dot), gb18030 to U+00B7
    from_gb2312 = name.encode("gb18030").decode("gb2312")
    assert "\u30fb" in from_gb2312
    out = normalize_name([from_gb18030, from_gb2312]).to_pylist()
    assert out == [name, name]
    assert out[0][4] == MIDDLE_DOT


def test_name_spaces_between_han() -> None:
    out = normalize_name(
        ["阿依古丽 买买提", "阿 依 古 丽", "  张三  ", "John Smith", "张三\u3000丰", None]
    )
    assert out.to_pylist() == [
        "阿依古丽·买买提",
        "阿·依·古·丽",
        "张三",
        "John Smith",
        "张三·丰",
        None,
    ]


def test_name_keeps_raw() -> None:
    raw = "阿依古丽•买买提"
    out = normalize_name_with_raw([raw]).to_pylist()
    assert out == [{"raw": raw, "normalized": "阿依古丽·买买提"}]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text",
    [
        "2023年1月5日",
        "2023年01月05日",
        "20230105",
        "2023/1/5",
        "2023-01-05",
        "2023-1-5",
        "2023.1.5",
        "２０２３年１月５日",
        " 2023-01-05 ",
        "2023-01-05 08:30:00",
        "2023-01-05T08:30",
    ],
)
def test_parse_dates_forms(text: str) -> None:
    result = parse_dates([text])
    assert result.values.to_pylist() == [date(2023, 1, 5)]
    assert result.invalid.to_pylist() == [False]


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-30",
        "2023-13-01",
        "2023-00-10",
        "2023年2月29日",
        "20231301",
        "0000-01-01",
        "2023-1",
        "abc",
        "2023/01-05",
        "44931",
    ],
)
def test_parse_dates_invalid(text: str) -> None:
    result = parse_dates([text, None])
    assert result.values.to_pylist() == [None, None]
    assert result.invalid.to_pylist() == [True, False]
    assert result.invalid_count == 1


def test_parse_dates_excel_and_passthrough() -> None:
    result = parse_dates(["44931", "20230105", "60", "2023-01-05"], excel=True)
    assert result.values.to_pylist() == [date(2023, 1, 5), date(2023, 1, 5), None, date(2023, 1, 5)]
    assert result.invalid.to_pylist() == [False, False, True, False]
    floats = parse_dates(pa.array([44931.5, None]), excel=True)
    assert floats.values.to_pylist() == [date(2023, 1, 5), None]
    ints = parse_dates(pa.array([20230105]))
    assert ints.values.to_pylist() == [date(2023, 1, 5)]
    d32 = pa.array([date(2020, 2, 29)])
    assert parse_dates(d32).values.equals(d32)
    ts = pa.array([datetime(2020, 2, 29, 12)], pa.timestamp("s"))
    assert parse_dates(ts).values.to_pylist() == [date(2020, 2, 29)]


def test_parse_dates_explicit_formats_are_strict() -> None:
    result = parse_dates(["05/01/2023", "30/02/2023", "2023-01-05"], formats=["%d/%m/%Y"])
    assert result.values.to_pylist() == [date(2023, 1, 5), None, None]
    assert result.invalid.to_pylist() == [False, True, True]


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_every_form_round_trips(d: date) -> None:
    y = f"{d.year:04d}"
    texts = [
        f"{y}年{d.month}月{d.day}日",
        f"{y}{d.month:02d}{d.day:02d}",
        f"{y}/{d.month}/{d.day}",
        f"{y}-{d.month:02d}-{d.day:02d}",
        f"{y}.{d.month}.{d.day}",
    ]
    assert parse_dates(texts).values.to_pylist() == [d] * len(texts)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10000), st.integers(-1, 14), st.integers(-1, 33))
def test_ymd_to_days_matches_python(y: int, m: int, d: int) -> None:
    days, ok = ymd_to_days(np.array([y]), np.array([m]), np.array([d]))
    try:
        expected = date(y, m, d).toordinal() - UNIX
    except ValueError:
        assert not ok[0]
    else:
        assert ok[0] and days[0] == expected


# --------------------------------------------------------------------------- Excel serials


def test_excel_serials_1900() -> None:
    result = excel_serial_to_date(
        [44931, 1, 59, 60, 61, 0, -3, 44931.99, "44931", "4.4931e4", None]
    )
    assert result.values.to_pylist() == [
        date(2023, 1, 5), date(1900, 1, 1), date(1900, 2, 28), None, date(1900, 3, 1),
        None, None, date(2023, 1, 5), date(2023, 1, 5), None, None,
    ]  # fmt: skip
    assert result.invalid.to_pylist() == [False] * 3 + [True] + [False] + [True] * 2 + [
        False
    ] * 2 + [True, False]


def test_excel_serials_1904() -> None:
    result = excel_serial_to_date(pa.array([0, 1, 43469, -1]), date1904=True)
    assert result.values.to_pylist() == [date(1904, 1, 1), date(1904, 1, 2), date(2023, 1, 5), None]


def test_excel_serial_upper_bound() -> None:
    assert excel_serial_to_date([2958465, 2958466]).values.to_pylist() == [date(9999, 12, 31), None]


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)))
def test_excel_serial_round_trip(d: date) -> None:
    serial = (d - date(1899, 12, 30)).days
    assert excel_serial_to_date([serial]).values.to_pylist() == [d]
    if d >= date(1904, 1, 1):  # the 1904 system cannot express earlier dates
        assert excel_serial_to_date([serial - 1462], date1904=True).values.to_pylist() == [d]


# --------------------------------------------------------------------------- periods


def test_parse_period() -> None:
    today = date(2024, 6, 15)
    values = [
        "202301",
        "2023-01",
        "2023-1",
        "2023年1月",
        "2023/12",
        "２０２３０１",
        "202406",
        "202407",
        "202313",
        "202300",
        "2023",
        "abc",
        None,
    ]
    result = parse_period(values, today=today)
    assert result.values.to_pylist() == ["202301"] * 4 + ["202312", "202301", "202406"] + [None] * 6
    assert result.invalid.to_pylist() == [False] * 7 + [True] * 5 + [False]


# --------------------------------------------------------------------------- amounts


def test_parse_amount_yuan() -> None:
    values = [
        "1,234.50",
        "１，２３４．５",
        "¥1234.5",
        "￥1,234.50元",
        "1234.500",
        "RMB 12",
        "-3.5",
        "+7",
        "1234.",
        "12.345",
        "1.2.3",
        "",
        "abc",
        None,
    ]
    result = parse_amount(values)
    assert result.values.type == pa.decimal128(18, 2)
    assert result.values.to_pylist() == [Decimal("1234.50")] * 5 + [
        Decimal("12.00"), Decimal("-3.50"), Decimal("7.00"), Decimal("1234.00"),
    ] + [None] * 5  # fmt: skip
    assert result.invalid.to_pylist() == [False] * 9 + [True] * 4 + [False]


def test_parse_amount_fen() -> None:
    result = parse_amount(["123456", "-5", "0", "1,000", "12.5", None], unit="fen")
    assert result.values.to_pylist() == [
        Decimal("1234.56"),
        Decimal("-0.05"),
        Decimal("0.00"),
        Decimal("10.00"),
        None,
        None,
    ]
    assert result.invalid.to_pylist() == [False, False, False, False, True, False]
    ints = parse_amount(pa.array([199, None], pa.int64()), unit="fen")
    assert ints.values.to_pylist() == [Decimal("1.99"), None]


def test_parse_amount_float_and_unit_error() -> None:
    assert parse_amount(pa.array([0.1 + 0.2])).values.to_pylist() == [Decimal("0.30")]
    with pytest.raises(HubError):
        parse_amount(["1"], unit="jiao")  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(st.integers(-(10**17) + 1, 10**17 - 1))
def test_fen_is_exact(fen: int) -> None:
    assert parse_amount([str(fen)], unit="fen").values.to_pylist() == [Decimal(fen) / 100]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="0123456789-/. 年月日T:", max_size=12),
                          st.dates().map(lambda d: d.strftime("%Y%m%d")),
                          st.dates().map(lambda d: d.isoformat())), max_size=30),
       st.integers(0, 3))
def test_fixed_shape_dates_read_like_the_regex(values: list[str | None], offset: int) -> None:
    """YYYYMMDD / YYYY-MM-DD rows read from the bytes give exactly what the date regex
    gives (slices included); other rows still go through the regex."""
    from hrss_hub.standard.normalize import _builtin_dates, _regex_dates

    arr = pa.array(["x"] * offset + values, pa.string()).slice(offset)
    fast_days, fast_ok = _builtin_dates(arr)
    ref_days, ref_ok = _regex_dates(arr)
    assert fast_ok.tolist() == ref_ok.tolist()
    assert fast_days[fast_ok].tolist() == ref_days[ref_ok].tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="张三阿依古 \u3000.·•。\t\nab", max_size=8)),
                max_size=25))
def test_names_without_dots_or_spaces_are_left_alone(values: list[str | None]) -> None:
    """Only rows holding a dot variant or a space go through the regex passes; the result
    is that of every row through them."""
    from hrss_hub.standard.normalize import _normalize_names, normalize_name

    arr = pa.array(values, pa.string())
    assert normalize_name(arr).to_pylist() == _normalize_names(arr).to_pylist()


def test_float_amounts_round_half_away_from_zero() -> None:
    from decimal import Decimal

    import pyarrow as pa

    from hrss_hub.standard.normalize import parse_amount

    yuan = parse_amount(pa.array([0.125, -0.125, 2.5, 0.135], pa.float64()))
    # half-to-even gave 0.12 / -0.12 (0.125 is exact in binary)
    assert yuan.values.to_pylist() == [Decimal("0.13"), Decimal("-0.13"), Decimal("2.50"),
                                       Decimal("0.14")]
    fen = parse_amount(pa.array([2.5, 3.5], pa.float64()), unit="fen")
    assert fen.values.to_pylist() == [Decimal("0.03"), Decimal("0.04")]

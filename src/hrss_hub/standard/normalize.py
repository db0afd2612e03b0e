"""Vectorized normalizers for the dirty values real 人社 systems export.

Every function takes a ``pa.Array`` or ``pa.ChunkedArray`` (a plain Python list is accepted
for convenience) and works column-at-a-time with ``pyarrow.compute`` and numpy; only rows that
need an unusual repair (non-ASCII characters) take a per-row path. Parsers return a
:class:`ParseResult`: ``values`` (the typed column, null where the input was null *or* bad)
and ``invalid`` (true exactly where the input was non-null but could not be parsed), so a caller
can keep the raw value and report the bad rows instead of silently dropping them.

See docs: domain-standards.md §5 (check-char variants, Excel damage, date forms, GB18030 names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import HubError

ArrayLike: TypeAlias = "pa.Array | pa.ChunkedArray | Sequence[Any]"
IntVec: TypeAlias = npt.NDArray[np.int64]
AnyInts: TypeAlias = npt.NDArray[np.integer[Any]]
BoolVec: TypeAlias = npt.NDArray[np.bool_]

# U+FF01..U+FF5E are ASCII shifted by 0xFEE0; U+3000 is the ideographic space. The three
# full-width currency signs matter for amounts (￥ is common in finance exports).
_WIDTH_TABLE: dict[int, int] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_WIDTH_TABLE.update({0x3000: 0x20, 0xFFE5: 0xA5, 0xFFE0: 0xA2, 0xFFE1: 0xA3})

# Separator dots seen in minority names (§5.6); U+00B7 is what 民委发〔2016〕33号 requires.
MIDDLE_DOT = "\u00b7"
_MONTH_LEN = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
_DOT_VARIANTS = "\u00b7\u2022\u2219\u30fb\u25cf\uff0e.\u3002\u2027\u22c5\uff65"

# Day numbers (since 1970-01-01) of the Excel epochs and of the last representable date.
_UNIX = date(1970, 1, 1).toordinal()
_EPOCH_1900_EARLY = date(1899, 12, 31).toordinal() - _UNIX  # serial 1 = 1900-01-01
_EPOCH_1900_LATE = date(1899, 12, 30).toordinal() - _UNIX  # serials >= 61 (after the fake 02-29)
_EPOCH_1904 = date(1904, 1, 1).toordinal() - _UNIX  # serial 0 = 1904-01-01
_MAX_DAY = date(9999, 12, 31).toordinal() - _UNIX


@dataclass(frozen=True)
class ParseResult:
    """Result of a vectorized parse.

    ``values`` is the typed column (null where the input was null or invalid); ``invalid`` is a
    boolean column, true exactly where the input was non-null but unparseable.
    """

    values: pa.Array
    invalid: pa.Array

    @property
    def invalid_count(self) -> int:
        """Number of non-null inputs that could not be parsed."""
        return int(pc.sum(self.invalid).as_py() or 0)


DateParseResult: TypeAlias = ParseResult


# --------------------------------------------------------------------------- helpers


def as_array(values: ArrayLike) -> pa.Array:
    """Return ``values`` as one contiguous ``pa.Array`` (chunks combined, lists converted)."""
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 1:
            return values.chunk(0)
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    items = list(values)
    try:
        return pa.array(items)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # mixed Python types (e.g. 44931 and "44931.5"): fall back to their text
        return pa.array([None if v is None else str(v) for v in items], type=pa.string())


def as_string_array(values: ArrayLike) -> pa.Array:
    """Return ``values`` as a ``string`` array; numbers are rendered with ``pc.cast``."""
    arr = as_array(values)
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        return pc.cast(arr, pa.string())
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_dictionary(arr.type):
        return as_string_array(pc.cast(arr, arr.type.value_type))
    return pc.cast(arr, pa.string())


def _not_null(arr: pa.Array) -> BoolVec:
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def to_bool_numpy(arr: pa.Array) -> BoolVec:
    """A boolean Arrow array as a numpy bool vector, nulls read as false."""
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _bool_array(values: BoolVec) -> pa.Array:
    return pa.array(values, type=pa.bool_())


def ymd_to_days(year: AnyInts, month: AnyInts, day: AnyInts) -> tuple[IntVec, BoolVec]:
    """Days since 1970-01-01 for proleptic-Gregorian (year, month, day) vectors.

    Returns ``(days, ok)``; ``ok`` is false for impossible dates (month 13, Feb 30, year 0),
    which are never rolled over (``days`` is 0 there). Howard Hinnant's ``days_from_civil``
    in int32 numpy (years are limited to 1..9999, so nothing overflows).
    """
    # clipping keeps every out-of-range value out of range while making int32 arithmetic safe
    y = np.clip(year, -1, 10_000).astype(np.int32)
    m = np.clip(month, -1, 13).astype(np.int32)
    d = np.clip(day, -1, 32).astype(np.int32)
    leap = ((y & 3) == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _MONTH_LEN[np.clip(m, 0, 12)] + ((m == 2) & leap)
    ok = (y >= 1) & (y <= 9999) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim)
    yy = y - (m <= 2)  # years start in March, so Feb 29 is the last day of the year
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return np.where(ok, days, 0).astype(np.int64), ok


def days_to_date32(days: IntVec, ok: BoolVec) -> pa.Array:
    """Build a ``date32`` array from day numbers, null where ``ok`` is false."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=~ok)


def _int_field(groups: pa.StructArray, names: Sequence[str]) -> tuple[IntVec, BoolVec]:
    """Concatenate alternative regex groups (only one is non-empty per row) and cast to int."""
    matched = _not_null(groups)
    text = groups.field(names[0])
    for name in names[1:]:
        text = pc.binary_join_element_wise(text, groups.field(name), "")
    text = pc.if_else(pa.array(matched), text, pa.scalar(None, pa.string()))
    ints = pc.cast(text, pa.int64()).fill_null(0)
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64), matched


# --------------------------------------------------------------------------- characters


def fullwidth_to_halfwidth(values: ArrayLike) -> pa.Array:
    """Map full-width ASCII (U+FF01–FF5E), the ideographic space and ￥ to half-width.

    Only this width mapping is applied (not NFKC, which would also fold CJK compatibility
    ideographs that are distinct in some names). Pure-ASCII rows are not touched; the
    non-ASCII rows go through ``str.translate`` because Arrow has no character-map kernel.
    """
    arr = as_string_array(values)
    non_ascii = pc.invert(pc.string_is_ascii(arr)).fill_null(False)
    if not pc.any(non_ascii).as_py():
        return arr
    rows = pc.filter(arr, non_ascii).to_pylist()
    fixed = pa.array([r.translate(_WIDTH_TABLE) for r in rows], type=pa.string())
    return pc.replace_with_mask(arr, non_ascii, fixed)


def string_layout(arr: pa.Array) -> tuple[npt.NDArray[np.uint8], IntVec]:
    """The UTF-8 data bytes and the (n+1) row offsets of a ``string`` array (slice-aware)."""
    if len(arr) == 0:
        return np.empty(0, np.uint8), np.zeros(1, np.int64)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
    return data, offsets.astype(np.int64)


def _rows_not_alphanumeric(arr: pa.Array) -> BoolVec:
    """Per row: does it hold a byte other than 0-9 / A-Z? (null rows → False).

    Such rows go through the cleaning pipeline; on typical exports they are a small minority,
    which keeps cleaning cheap. uint8 arithmetic wraps, so ``b - 48 < 10`` tests '0'..'9'.
    """
    data, offsets = string_layout(arr)
    start, stop = int(offsets[0]), int(offsets[-1])
    chunk = data[start:stop]
    ok = (chunk - np.uint8(48)) < 10
    ok |= (chunk - np.uint8(65)) < 26
    bad_pos = np.flatnonzero(~ok) + start
    rows = np.zeros(len(arr), dtype=bool)
    if len(bad_pos):
        rows[np.searchsorted(offsets, bad_pos, side="right") - 1] = True
    return rows & _not_null(arr)


def _clean_id_pipeline(arr: pa.Array) -> pa.Array:
    if pc.all(pc.string_is_ascii(arr)).as_py() is False:
        arr = fullwidth_to_halfwidth(arr)
        arr = pc.utf8_upper(arr)
        # × U+00D7 and Cyrillic Х U+0425 (after upper-casing х U+0445) are the X look-alikes;
        # the other patterns are Unicode spaces and dashes that NFKC would not remove.
        arr = pc.replace_substring_regex(arr, "[\u00d7\u0425]", "X")
        arr = pc.replace_substring_regex(arr, r"[\p{Z}\x{2010}-\x{2015}\x{2212}\x{FE63}]", "")
    else:
        arr = pc.ascii_upper(arr)
    arr = pc.replace_substring_regex(arr, r"[ \t\r\n\-]+", "")
    return pc.utf8_ltrim(arr, characters="'")


def normalize_id_chars(values: ArrayLike) -> pa.Array:
    """Clean an identifier column (citizen ID, USCC, org code) before validation.

    Full-width → half-width; check-char variants (x, Ｘ, ｘ, ×, Cyrillic х/Х) → ``X``;
    inner and outer spaces, tabs, hyphens and dashes removed; a leading Excel apostrophe
    removed; upper-cased. Nulls stay null. The result may still be invalid: this only undoes
    the damage listed in domain-standards §5.2, it never guesses digits. Rows that are already
    clean (only 0-9, A-Z) are found with numpy on the byte buffer and left untouched.
    """
    arr = as_string_array(values)
    dirty = _rows_not_alphanumeric(arr)
    if not dirty.any():
        return arr
    if dirty.all():
        return _clean_id_pipeline(arr)
    mask = pa.array(dirty)
    return pc.replace_with_mask(arr, mask, _clean_id_pipeline(pc.filter(arr, mask)))


def normalize_name(values: ArrayLike) -> pa.Array:
    """Normalize person names for *matching*: separator-dot variants → U+00B7 ``·``.

    Variants (§5.6): • U+2022, ∙ U+2219, ・ U+30FB (gb2312-decoded A1A4), ● U+25CF, ． U+FF0E,
    ``.``, ``。``, ‧ U+2027, ⋅, and spaces (half or full width) between two Han characters.
    Whitespace around a dot is dropped, runs of dots collapse, the value is trimmed. The raw
    value must be kept by the caller (the normalized form is a key, not the legal name);
    :func:`normalize_name_with_raw` returns both.
    """
    arr = as_string_array(values)
    dots = "".join(_DOT_VARIANTS)
    # most names hold no dot and no space: one match finds the rows the passes below
    # could change (trimmed characters are spaces too), the others are left as they are
    touched = pc.fill_null(pc.match_substring_regex(arr, rf"[\s\x{{3000}}{dots}]"), False)
    count = pc.sum(touched).as_py() or 0
    if count == 0:
        return arr
    if count < len(arr):
        return pc.replace_with_mask(arr, touched, _normalize_names(arr.filter(touched)))
    return _normalize_names(arr)


def _normalize_names(arr: pa.Array) -> pa.Array:
    dots = "".join(_DOT_VARIANTS)
    arr = pc.replace_substring_regex(arr, rf"[\s\x{{3000}}]*[{dots}]+[\s\x{{3000}}]*", MIDDLE_DOT)
    # Two passes because RE2 has no look-ahead: one pass consumes the Han on both sides of a
    # gap, so in "阿 依 古" the second gap is only seen on the second pass.
    for _ in range(2):
        arr = pc.replace_substring_regex(
            arr, r"(\p{Han})[\s\x{3000}]+(\p{Han})", r"\1" + MIDDLE_DOT + r"\2"
        )
    return pc.utf8_trim(arr, characters=" \t\r\n\u3000")


def normalize_name_with_raw(values: ArrayLike) -> pa.StructArray:
    """Return a struct array ``{raw, normalized}`` so the raw name is never lost."""
    raw = as_string_array(values)
    return pa.StructArray.from_arrays([raw, normalize_name(raw)], names=["raw", "normalized"])


# --------------------------------------------------------------------------- dates

_TIME_SUFFIX = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_PATTERN = (
    r"^\s*(?:"
    r"(?P<y1>\d{4})(?P<m1>\d{2})(?P<d1>\d{2})"
    r"|(?P<y2>\d{4})\s*年\s*(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*日?"
    r"|(?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2})"
    r"|(?P<y4>\d{4})/(?P<m4>\d{1,2})/(?P<d4>\d{1,2})"
    r"|(?P<y5>\d{4})\.(?P<m5>\d{1,2})\.(?P<d5>\d{1,2})"
    r")" + _TIME_SUFFIX + r"\s*$"
)
_SERIAL_PATTERN = r"^\s*\d{1,7}(?:\.\d*)?\s*$"


#: the compact shapes read straight from the bytes: (length, separator positions)
_FIXED_SHAPES = ((8, ()), (10, (4, 7)))


def _fixed_dates(text: pa.Array) -> tuple[IntVec, BoolVec, BoolVec]:
    """``(days, ok, handled)`` for rows that are exactly ``YYYYMMDD`` or ``YYYY-MM-DD`` in
    ASCII (what database exports mostly hold), read with one numpy gather per shape; the
    regex of :func:`_builtin_dates` reads the other rows. Same results as the regex: both
    shapes are alternatives of ``_DATE_PATTERN`` and whitespace makes a row longer."""
    n = len(text)
    days = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    handled = np.zeros(n, dtype=bool)
    data, offsets = string_layout(text)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    valid = _not_null(text)
    for width, seps in _FIXED_SHAPES:
        rows = np.flatnonzero((lengths == width) & valid)
        if not len(rows):
            continue
        b = data[starts[rows, None] + np.arange(width)].astype(np.int64) - 48  # '0' -> 0
        digit_cols = [i for i in range(width) if i not in seps]
        d = b[:, digit_cols]
        shaped = ((d >= 0) & (d <= 9)).all(axis=1)
        for pos in seps:
            shaped &= b[:, pos] == ord("-") - 48
        rows, d = rows[shaped], d[shaped]
        year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
        sub_days, sub_ok = ymd_to_days(year, d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7])
        days[rows], ok[rows], handled[rows] = sub_days, sub_ok, True
    return days, ok, handled


def _builtin_dates(text: pa.Array) -> tuple[IntVec, BoolVec]:
    if not pa.types.is_string(text.type):
        return _regex_dates(text)
    days, ok, handled = _fixed_dates(text)
    if handled.all():
        return days, ok
    rest = np.flatnonzero(~handled)
    if len(rest) < len(text):
        sub_days, sub_ok = _regex_dates(pc.take(text, pa.array(rest)))
        days[rest], ok[rest] = sub_days, sub_ok
        return days, ok
    return _regex_dates(text)


def _regex_dates(text: pa.Array) -> tuple[IntVec, BoolVec]:
    groups = pc.extract_regex(text, pattern=_DATE_PATTERN)
    y, matched = _int_field(groups, [f"y{i}" for i in range(1, 6)])
    m, _ = _int_field(groups, [f"m{i}" for i in range(1, 6)])
    d, _ = _int_field(groups, [f"d{i}" for i in range(1, 6)])
    days, ok = ymd_to_days(y, m, d)
    return days, ok & matched


def _format_dates(text: pa.Array, formats: Sequence[str]) -> tuple[IntVec, BoolVec]:
    """Try strptime formats in order; a parse counts only if strftime gives the input back,
    because Arrow's strptime rolls 2023-02-30 over to 2023-03-02."""
    days = np.zeros(len(text), dtype=np.int64)
    ok = np.zeros(len(text), dtype=bool)
    stripped = pc.utf8_trim_whitespace(text)
    for fmt in formats:
        parsed = pc.strptime(stripped, format=fmt, unit="s", error_is_null=True)
        back = pc.strftime(parsed, format=fmt)
        good = to_bool_numpy(pc.equal(back, stripped))
        new = good & ~ok
        if new.any():
            as_days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32()).fill_null(0)
            days = np.where(new, as_days.to_numpy(zero_copy_only=False), days)
            ok |= new
    return days, ok


def parse_dates(
    values: ArrayLike, formats: Sequence[str] | None = None, *, excel: bool = False
) -> DateParseResult:
    """Parse a date column into ``date32``.

    Without ``formats`` the built-in forms are accepted: ``2023年1月5日``, ``2023年01月05日``,
    ``20230105``, ``2023/1/5``, ``2023-01-05``, ``2023-1-5``, ``2023.1.5`` (full-width digits
    and separators too, an optional ``HH:MM[:SS]`` suffix ignored). With ``formats`` only those
    strptime formats are tried, strictly (the text must round-trip). ``excel=True`` also reads
    1–7 digit numbers as Excel 1900-system serials. Impossible dates (2023-02-30, month 13)
    are invalid, never rolled over. Date/timestamp inputs are passed through.
    """
    arr = as_array(values)
    if pa.types.is_date32(arr.type):
        return ParseResult(arr, pa.array(np.zeros(len(arr), dtype=bool)))
    if pa.types.is_date64(arr.type) or pa.types.is_timestamp(arr.type):
        return ParseResult(pc.cast(arr, pa.date32()), pa.array(np.zeros(len(arr), dtype=bool)))
    if excel and (pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)):
        return excel_serial_to_date(arr)
    text = fullwidth_to_halfwidth(as_string_array(arr))
    present = _not_null(text)
    if formats is None:
        days, ok = _builtin_dates(text)
    else:
        days, ok = _format_dates(text, formats)
    if excel:
        serial_like = to_bool_numpy(pc.match_substring_regex(text, _SERIAL_PATTERN)) & ~ok
        if serial_like.any():
            serial = excel_serial_to_date(pc.if_else(pa.array(serial_like), text, None))
            s_ok = _not_null(serial.values)
            s_days = pc.cast(serial.values, pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
            days = np.where(s_ok, s_days, days)
            ok = ok | s_ok
    return ParseResult(days_to_date32(days, ok), _bool_array(present & ~ok))


def excel_serial_to_date(values: ArrayLike, date1904: bool = False) -> DateParseResult:
    """Convert Excel date serials (ints, floats or numeric strings) to ``date32``.

    1900 system: serial 1 = 1900-01-01 … 59 = 1900-02-28; 60 is Excel's non-existent
    1900-02-29 (invalid); serials ≥ 61 count from 1899-12-30 (44931 → 2023-01-05).
    1904 system: serial 0 = 1904-01-01. A fractional part (time of day) is dropped.
    Serials below the first day or above 9999-12-31 are invalid.
    """
    arr = as_array(values)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        numeric = pc.match_substring_regex(arr, _SERIAL_PATTERN).fill_null(False)
        arr = pc.cast(pc.utf8_trim_whitespace(pc.if_else(numeric, arr, None)), pa.float64())
        present = _not_null(as_array(values))
    else:
        present = _not_null(arr)
        arr = pc.cast(arr, pa.float64())
    serial_f = np.asarray(arr.fill_null(-1.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(serial_f)
    serial = np.floor(np.where(finite, serial_f, -1.0)).astype(np.int64)
    has = _not_null(arr) & finite
    if date1904:
        days = _EPOCH_1904 + serial
        ok = has & (serial >= 0)
    else:
        days = np.where(serial >= 61, _EPOCH_1900_LATE + serial, _EPOCH_1900_EARLY + serial)
        ok = has & (serial >= 1) & (serial != 60)
    ok &= days <= _MAX_DAY
    return ParseResult(days_to_date32(np.where(ok, days, 0), ok), _bool_array(present & ~ok))


# --------------------------------------------------------------------------- periods

_PERIOD_PATTERN = (
    r"^\s*(?:(?P<y1>\d{4})(?P<m1>\d{2})"
    r"|(?P<y2>\d{4})[-/.](?P<m2>\d{1,2})"
    r"|(?P<y3>\d{4})\s*年\s*(?P<m3>\d{1,2})\s*月?)\s*$"
)


def parse_period(values: ArrayLike, *, today: date | None = None) -> ParseResult:
    """Parse 费款所属期-style periods into ``'YYYYMM'`` strings.

    Accepts ``202301``, ``2023-01``, ``2023-1``, ``2023/1``, ``2023.1``, ``2023年1月``.
    Invalid when malformed, month outside 1..12, year before 1900, or after the month of
    ``today`` (default: the current date).
    """
    text = fullwidth_to_halfwidth(as_string_array(values))
    present = _not_null(text)
    groups = pc.extract_regex(text, pattern=_PERIOD_PATTERN)
    y, matched = _int_field(groups, ["y1", "y2", "y3"])
    m, _ = _int_field(groups, ["m1", "m2", "m3"])
    now = today or date.today()
    ok = matched & (m >= 1) & (m <= 12) & (y >= 1900) & (y * 12 + m <= now.year * 12 + now.month)
    code = np.where(ok, y * 100 + m, 0)
    out = pc.cast(pa.array(code, mask=~ok), pa.string())
    return ParseResult(out, _bool_array(present & ~ok))


# --------------------------------------------------------------------------- amounts

_AMOUNT_JUNK = r"[,\s\x{00A5}$]|^RMB|^人民币|元整?$"
_YUAN_PATTERN = r"^[+-]?\d{1,16}(?:\.(?:\d{1,2}0*)?)?$"
_FEN_PATTERN = r"^[+-]?\d{1,17}$"


def parse_amount(values: ArrayLike, unit: Literal["yuan", "fen"] = "yuan") -> ParseResult:
    """Parse money into ``decimal128(18, 2)`` yuan.

    Removes thousands separators (``1,234.50``; full-width ``１，２３４．５``), ``¥``/``￥``,
    a ``RMB``/``人民币`` prefix and a ``元``/``元整`` suffix. ``unit="fen"`` reads integer fen
    (分) and divides by 100 exactly. More than two non-zero decimals (yuan) or any decimal
    point (fen) is invalid: amounts are never rounded silently. Float inputs are rounded to
    cents first, 四舍五入 (they come from spreadsheets, where 0.1+0.2 is not 0.3).
    """
    if unit not in ("yuan", "fen"):
        raise HubError(f"unknown amount unit {unit!r}", hint="use 'yuan' or 'fen'")
    arr = as_array(values)
    if pa.types.is_floating(arr.type):
        # 四舍五入 (half away from zero), as money is rounded everywhere in the hub
        arr = pc.round(arr, 2 if unit == "yuan" else 0, round_mode="half_towards_infinity")
    text = fullwidth_to_halfwidth(as_string_array(arr))
    present = _not_null(text)
    if unit == "yuan":
        fast = _plain_yuan(text)
        if fast is not None:
            return fast
    text = pc.replace_substring_regex(text, _AMOUNT_JUNK, "")
    pattern = _YUAN_PATTERN if unit == "yuan" else _FEN_PATTERN
    good = pc.match_substring_regex(text, pattern).fill_null(False)
    ok = to_bool_numpy(good)
    clean = pc.if_else(good, text, pa.scalar(None, pa.string()))
    if unit == "yuan":
        clean = pc.replace_substring_regex(clean, r"\.$", "")
        clean = pc.replace_substring_regex(clean, r"(\.\d{1,2})0+$", r"\1")
        out = pc.cast(clean, pa.decimal128(18, 2))
    else:
        out = _fen_to_decimal(pc.cast(clean, pa.int64()))
    return ParseResult(out, _bool_array(present & ~ok))


def _plain_yuan(text: pa.Array) -> ParseResult | None:
    """Fast path: a column of plain decimal numbers (the usual database export) casts
    directly; anything else (separators, units, >2 decimals, blanks) returns None so that
    the full parser runs."""
    if not len(text) or pc.any(pc.invert(pc.string_is_ascii(text))).as_py():
        return None
    if pc.any(pc.match_substring_regex(text, r"[^0-9.+\-]")).as_py():
        return None
    try:
        out = pc.cast(text, pa.decimal128(18, 2))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return ParseResult(out, pa.repeat(pa.scalar(False), len(text)))


def _fen_to_decimal(fen: pa.Array) -> pa.Array:
    """Reinterpret integer fen as the unscaled value of decimal128(18, 2): exact, no division."""
    ints = np.asarray(fen.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    words = np.empty((len(ints), 2), dtype=np.int64)
    words[:, 0] = ints  # little-endian int128: low word, then the sign extension
    words[:, 1] = np.where(ints < 0, -1, 0)
    validity = fen.is_valid()
    mask_buf = validity.buffers()[1] if fen.null_count else None
    if mask_buf is not None and validity.offset:
        mask_buf = pa.array(validity.to_pylist()).buffers()[1]
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(ints), [mask_buf, pa.py_buffer(words.tobytes())]
    )


def clean_id_chars(value: str) -> str:
    """Scalar twin of :func:`normalize_id_chars` (same steps, same result for one string)."""
    text = value
    if not text.isascii():
        text = text.translate(_WIDTH_TABLE)
        # Arrow's utf8_upper is a per-character (simple) case mapping; str.upper is not (ß→SS).
        text = "".join(c.upper() if len(c.upper()) == 1 else c for c in text)
        text = text.replace("\u00d7", "X").replace("\u0425", "X")
        text = "".join(c for c in text if not _is_unicode_junk(c))
    else:
        text = text.upper()
    for junk in (" ", "\t", "-", "\r", "\n"):
        text = text.replace(junk, "")
    return text.lstrip("'")


def _is_unicode_junk(char: str) -> bool:
    import unicodedata

    code = ord(char)
    return (
        unicodedata.category(char).startswith("Z")
        or 0x2010 <= code <= 0x2015
        or code in (0x2212, 0xFE63)
    )

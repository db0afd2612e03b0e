"""Check-digit validation of Chinese identifiers, one value at a time or a column at a time.

* Citizen ID number, GB 11643-1999 (ISO 7064 MOD 11-2), incl. 15-digit legacy numbers,
  HK/Macao/Taiwan residence permits (810000/820000/830000) and 9-prefixed foreigner
  permanent-residence IDs.
* Unified Social Credit Code (USCC), GB 32100-2015 (mod 31), whose positions 9–17 must also
  pass the GB 11714 organisation-code check.
* Organisation code, GB 11714-1997 (mod 11).

Inputs are cleaned first (:func:`~hrss_hub.standard.normalize.normalize_id_chars`). Each
invalid value gets exactly one *reason*, the first failing check in this order:

* citizen ID: ``length`` → ``charset`` → ``checksum`` → ``date`` → ``address``
* USCC: ``length`` → ``charset`` → ``checksum`` → ``org_code_checksum``
* org code: ``length`` → ``charset`` → ``checksum``

The outer checksum comes first so a single typo is always reported as ``checksum``, even when it
also breaks the embedded org code or the birth date. The vectorized functions work on the
string column's byte buffer with numpy (no per-row Python) and return a ``pa.StructArray``
whose row is null where the input was null.
"""

from __future__ import annotations

import string
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import HubError
from hrss_hub.standard.normalize import (
    ArrayLike,
    BoolVec,
    IntVec,
    clean_id_chars,
    days_to_date32,
    normalize_id_chars,
    string_layout,
    ymd_to_days,
)

# --------------------------------------------------------------------------- constants

CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CITIZEN_CHECK_CHARS = "10X98765432"  # indexed by (Σ aᵢ·Wᵢ) mod 11
PROVINCE_CODES = frozenset(
    {*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55)}
    | {*range(61, 66), 71, 81, 82, 83}
)
HMT_PROVINCES = frozenset({81, 82, 83})  # 83 only occurs as 830000 (Taiwan residents' permits)
HMT_ADDRESS_CODES = frozenset({"810000", "820000", "830000"})
EARLIEST_BIRTH = date(1850, 1, 1)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_ALPHABET = string.digits + string.ascii_uppercase  # value = index (A = 10 … Z = 35)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CHECK_CHARS = "0123456789X"  # indexed by C9 mod 11 (C9 = 11 → '0', 10 → 'X')

CITIZEN_REASONS = ("length", "charset", "checksum", "date", "address")
USCC_REASONS = ("length", "charset", "checksum", "org_code_checksum")
ORG_REASONS = ("length", "charset", "checksum")
CITIZEN_KINDS = ("citizen", "hmt_permit", "foreign_pr", "legacy15")

_DIGITS = frozenset(string.digits)
_UNIX_ORDINAL = date(1970, 1, 1).toordinal()


class IdentifierInputError(HubError, ValueError):
    """A helper such as :func:`citizen_id_check_char` got a malformed body."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class _Result:
    input: str | None
    valid: bool
    normalized: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (dates as ISO strings), e.g. for JSON output."""
        out = asdict(self)
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in out.items()}


@dataclass(frozen=True)
class CitizenIdResult(_Result):
    """Outcome of :func:`validate_citizen_id`.

    Derived fields are filled whenever the value has a valid length and charset (so a checksum
    failure can still be reviewed); ``birth_date`` only when it is a real date in range.
    ``address_code`` is None for foreigner PR IDs (their digits 2–6 are not a GB/T 2260 code).
    ``division_known`` is None unless ``known_divisions`` was given.
    """

    kind: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    address_code: str | None = None
    upgraded_from: str | None = None
    division_known: bool | None = None


@dataclass(frozen=True)
class UsccResult(_Result):
    """Outcome of :func:`validate_uscc`; derived fields need a valid length and charset."""

    registration_authority: str | None = None
    category: str | None = None
    division: str | None = None
    org_code: str | None = None


@dataclass(frozen=True)
class OrgCodeResult(_Result):
    """Outcome of :func:`validate_org_code`. ``self_defined`` marks the PDY internal range."""

    self_defined: bool | None = None


# --------------------------------------------------------------------------- check chars


def _require(body: str, length: int, alphabet: Collection[str], what: str) -> None:
    if len(body) != length or any(c not in alphabet for c in body):
        chars = "".join(sorted(alphabet))
        raise IdentifierInputError(
            f"{what} must be {length} characters from {chars!r}", {"value": body}
        )


def citizen_id_check_char(body17: str) -> str:
    """MOD 11-2 check character for a 17-digit citizen-ID body (``'0'``–``'9'`` or ``'X'``)."""
    _require(body17, 17, _DIGITS, "citizen ID body")
    total = sum(int(c) * w for c, w in zip(body17, CITIZEN_WEIGHTS, strict=True))
    return CITIZEN_CHECK_CHARS[total % 11]


def upgrade_citizen_id(id15: str) -> str:
    """Upgrade a 15-digit (GB 11643-1989) number: insert ``19`` before YYMMDD, append the check."""
    _require(id15, 15, _DIGITS, "15-digit citizen ID")
    body = id15[:6] + "19" + id15[6:]
    return body + citizen_id_check_char(body)


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character for the first 17 characters of a USCC."""
    _require(body17, 17, USCC_ALPHABET, "USCC body")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character for an 8-character organisation-code body."""
    _require(body8, 8, ORG_ALPHABET, "organisation code body")
    total = sum(ORG_ALPHABET.index(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    return ORG_CHECK_CHARS[(11 - total % 11) % 11]


# --------------------------------------------------------------------------- scalar API


def validate_citizen_id(
    value: str | None,
    *,
    known_divisions: Collection[str] | None = None,
    today: date | None = None,
) -> CitizenIdResult:
    """Validate one citizen ID number (18 digits, or a legacy 15-digit number).

    A valid 15-digit number yields ``kind='legacy15'``, ``normalized`` = its 18-digit upgrade
    and ``upgraded_from`` = the cleaned 15 digits. Birth dates must be real, not before 1850
    and not after ``today``. An address code outside ``known_divisions`` is only *flagged*
    (``division_known=False``): retired counties are legitimate (domain-standards §5.10).
    ``None`` gives ``valid=False`` with ``reason=None`` (nothing to validate).
    """
    if value is None:
        return CitizenIdResult(None, False, None, None)
    s = clean_id_chars(value)
    today = today or date.today()
    if len(s) == 18:
        if not (all(c in _DIGITS for c in s[:17]) and (s[17] in _DIGITS or s[17] == "X")):
            return CitizenIdResult(value, False, s, "charset")
        full, legacy = s, False
    elif len(s) == 15:
        if not all(c in _DIGITS for c in s):
            return CitizenIdResult(value, False, s, "charset")
        full, legacy = upgrade_citizen_id(s), True
    else:
        return CitizenIdResult(value, False, s, "length")

    province = int(full[:2])
    if legacy:
        kind = "legacy15"
    elif full[0] == "9":
        kind = "foreign_pr"
    elif province in HMT_PROVINCES:
        kind = "hmt_permit"
    else:
        kind = "citizen"
    try:
        born: date | None = date(int(full[6:10]), int(full[10:12]), int(full[12:14]))
    except ValueError:
        born = None
    date_ok = born is not None and EARLIEST_BIRTH <= born <= today
    address = None if kind == "foreign_pr" else full[:6]
    if legacy:
        reason = None
    elif citizen_id_check_char(full[:17]) != full[17]:
        reason = "checksum"
    else:
        reason = None
    if reason is None and not date_ok:
        reason = "date"
    if reason is None and address is not None and province not in PROVINCE_CODES:
        reason = "address"
    known = None
    if known_divisions is not None and address is not None:
        known = address in known_divisions or address in HMT_ADDRESS_CODES
    valid = reason is None
    return CitizenIdResult(
        input=value,
        valid=valid,
        normalized=full if (legacy and valid) else s,
        reason=reason,
        kind=kind,
        birth_date=born if date_ok else None,
        gender="1" if int(full[16]) % 2 else "2",
        address_code=address,
        upgraded_from=s if (legacy and valid) else None,
        division_known=known,
    )


def validate_uscc(value: str | None) -> UsccResult:
    """Validate one Unified Social Credit Code (GB 32100 check, then the embedded GB 11714 check).

    A checksum failure can be a real code (e.g. Fujian ``91350211M0000XUF46``): report it for
    manual review rather than dropping the record.
    """
    if value is None:
        return UsccResult(None, False, None, None)
    s = clean_id_chars(value)
    if len(s) != 18:
        return UsccResult(value, False, s, "length")
    if any(c not in USCC_ALPHABET for c in s):
        return UsccResult(value, False, s, "charset")
    reason = None
    if uscc_check_char(s[:17]) != s[17]:
        reason = "checksum"
    elif org_code_check_char(s[8:16]) != s[16]:
        reason = "org_code_checksum"
    return UsccResult(value, reason is None, s, reason, s[0], s[1], s[2:8], s[8:17])


def validate_org_code(value: str | None) -> OrgCodeResult:
    """Validate one GB 11714 organisation code (``XXXXXXXX-X`` or ``XXXXXXXXX``)."""
    if value is None:
        return OrgCodeResult(None, False, None, None)
    s = clean_id_chars(value)
    if len(s) != 9:
        return OrgCodeResult(value, False, s, "length")
    if any(c not in ORG_ALPHABET for c in s[:8]) or s[8] not in ORG_CHECK_CHARS:
        return OrgCodeResult(value, False, s, "charset")
    reason = None if org_code_check_char(s[:8]) == s[8] else "checksum"
    return OrgCodeResult(value, reason is None, s, reason, s.startswith("PDY"))


# --------------------------------------------------------------------------- vectorized core

U8Mat = npt.NDArray[np.uint8]


def _rows_matrix(data: U8Mat, starts: IntVec, width: int) -> U8Mat:
    """Gather rows of exactly ``width`` bytes starting at ``starts`` into an (m, width) matrix.

    A sliding-window view makes this one row-wise fancy index (contiguous width-byte copies),
    several times faster than gathering column by column.
    """
    if not len(starts):
        return np.empty((0, width), dtype=np.uint8)
    if np.array_equal(starts, starts[0] + width * np.arange(len(starts))):
        first = int(starts[0])  # the usual case: every row has this width, stored back to back
        return data[first : first + width * len(starts)].reshape(len(starts), width)
    rows: U8Mat = np.lib.stride_tricks.sliding_window_view(data, width)[starts]
    return rows


def _strings_from_matrix(mat: U8Mat, valid: BoolVec | None = None) -> pa.Array:
    """A ``string`` array whose rows are the rows of an ASCII byte matrix (null where not
    ``valid``; a null row still owns its bytes, which Arrow allows)."""
    m, width = mat.shape
    offsets = pa.py_buffer((np.arange(m + 1, dtype=np.int32) * width).tobytes())
    bitmap = None
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    data = pa.py_buffer(np.ascontiguousarray(mat).tobytes())
    return pa.Array.from_buffers(pa.string(), m, [bitmap, offsets, data])


def _scatter_rows(
    n: int, width: int, groups: list[tuple[IntVec, U8Mat]], keep: BoolVec
) -> pa.Array:
    """Assemble an n-row fixed-width string column from per-group row matrices."""
    out = np.zeros((n, width), dtype=np.uint8)
    for rows, mat in groups:
        out[rows] = mat
    return _strings_from_matrix(out, keep)


def _labels(codes: npt.NDArray[np.int8], names: tuple[str, ...]) -> pa.Array:
    """Map small integer codes to their string label; negative codes become null."""
    return pc.take(pa.array(names, type=pa.string()), pa.array(codes, mask=codes < 0))


def _masked(values: pa.Array, keep: BoolVec) -> pa.Array:
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


def _by_width(
    cleaned: pa.Array, widths: tuple[int, ...]
) -> tuple[BoolVec, BoolVec, dict[int, tuple[IntVec, U8Mat]]]:
    """Split non-null ASCII rows by exact width into (row indices, byte matrix) groups.

    Also returns the null mask and the rows whose *character* length is accepted but which hold
    non-ASCII characters: those fail as ``charset`` without being sliced mid-character.
    """
    data, offsets = string_layout(cleaned)
    byte_len = np.diff(offsets)
    present = np.asarray(cleaned.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    non_ascii = np.zeros(len(cleaned), dtype=bool)
    char_len = byte_len
    if pc.all(pc.string_is_ascii(cleaned)).as_py() is False:
        char_len = np.asarray(pc.utf8_length(cleaned).fill_null(-1).to_numpy(zero_copy_only=False))
        non_ascii = present & (char_len != byte_len) & np.isin(char_len, widths)
    groups: dict[int, tuple[IntVec, U8Mat]] = {}
    for width in widths:
        rows = np.nonzero(present & (byte_len == width) & (char_len == width))[0]
        groups[width] = (rows, _rows_matrix(data, offsets[:-1][rows], width))
    return present, non_ascii, groups


def _prepare(values: ArrayLike) -> pa.Array:
    cleaned = normalize_id_chars(values)
    if isinstance(cleaned, pa.ChunkedArray):
        cleaned = cleaned.combine_chunks()
    return cleaned


# --------------------------------------------------------------------------- citizen IDs

_PROVINCE_TABLE = np.zeros(100, dtype=bool)
_PROVINCE_TABLE[list(PROVINCE_CODES)] = True
_HMT_TABLE = np.zeros(100, dtype=bool)
_HMT_TABLE[list(HMT_PROVINCES)] = True
_CHECK_BYTES = np.frombuffer(CITIZEN_CHECK_CHARS.encode(), dtype=np.uint8)


def _weighted_sum(values: U8Mat, weights: npt.NDArray[np.uint16]) -> npt.NDArray[np.uint16]:
    """Row-wise Σ value·weight in uint16: exact for in-alphabet rows (≤ 30·30·17 < 2¹⁶);
    rows with out-of-alphabet bytes may wrap, but those are rejected as ``charset`` first."""
    total: npt.NDArray[np.uint16] = np.einsum("ij,j->i", values, weights, dtype=np.uint16)
    return total


_CITIZEN_W = np.asarray(CITIZEN_WEIGHTS, dtype=np.uint16)


def _citizen_check_bytes(digits17: U8Mat) -> U8Mat:
    return _CHECK_BYTES[_weighted_sum(digits17, _CITIZEN_W) % 11]


def _analyze_citizen(mat: U8Mat, legacy: bool, today_days: int) -> dict[str, Any]:
    """Reason/kind/date/gender codes for an (m, 18) matrix of candidate IDs."""
    d = mat[:, :17] - np.uint8(48)  # uint8 wraps, so any non-digit becomes >= 10
    last = mat[:, 17]
    charset_ok = (d.max(axis=1) < 10) & ((last - np.uint8(48) < 10) | (last == ord("X")))
    check_ok = np.ones(len(mat), dtype=bool) if legacy else _citizen_check_bytes(d) == last

    def num(start: int, stop: int) -> npt.NDArray[np.uint16]:
        # decimal value of digit columns [start, stop); garbage (and maybe wrapped) for rows
        # failing the charset check, which are rejected before the date or address matters
        weights = (10 ** np.arange(stop - start - 1, -1, -1)).astype(np.uint16)
        return _weighted_sum(d[:, start:stop], weights)

    days, real = ymd_to_days(num(6, 10), num(10, 12), num(12, 14))
    earliest = EARLIEST_BIRTH.toordinal() - _UNIX_ORDINAL
    date_ok = real & (days >= earliest) & (days <= today_days)
    province = num(0, 2) % 100
    foreign = (d[:, 0] == 9) & (not legacy)
    address_ok = foreign | _PROVINCE_TABLE[province]
    reason = np.select(
        [~charset_ok, ~check_ok, ~date_ok, ~address_ok], [1, 2, 3, 4], default=-1
    ).astype(np.int8)
    if legacy:
        kind = np.full(len(mat), 3, dtype=np.int8)
    else:
        kind = np.where(foreign, 2, np.where(_HMT_TABLE[province], 1, 0)).astype(np.int8)
    kind[~charset_ok] = -1
    gender = (1 - (d[:, 16] & 1)).astype(np.int8)  # odd sequence → '1' (male) = label 0
    gender[~charset_ok] = -1
    return {
        "reason": reason,
        "kind": kind,
        "days": days,
        "date_ok": date_ok & charset_ok,
        "gender": gender,
        "has_address": charset_ok & ~foreign,
    }


def _upgrade_matrix(mat15: U8Mat) -> U8Mat:
    """15-digit rows → 18-byte rows: insert "19", append the check char (garbage if non-digit)."""
    out = np.empty((len(mat15), 18), dtype=np.uint8)
    out[:, :6] = mat15[:, :6]
    out[:, 6] = ord("1")
    out[:, 7] = ord("9")
    out[:, 8:17] = mat15[:, 6:]
    out[:, 17] = _citizen_check_bytes(out[:, :17] - np.uint8(48))
    return out


def validate_citizen_ids(
    values: ArrayLike,
    *,
    known_divisions: Collection[str] | None = None,
    today: date | None = None,
) -> pa.StructArray:
    """Vectorized :func:`validate_citizen_id`.

    Returns a struct array with fields ``normalized, valid, reason, kind, birth_date (date32),
    gender, address_code, upgraded_from, division_known``; a null input gives a null row (all
    fields null). Same rules and reasons as the scalar function.
    """
    cleaned = _prepare(values)
    n = len(cleaned)
    today_days = (today or date.today()).toordinal() - _UNIX_ORDINAL
    present, non_ascii, groups = _by_width(cleaned, (18, 15))
    reason = np.where(present, 0, -1).astype(np.int8)  # default: wrong length
    reason[non_ascii] = 1
    address_parts: list[tuple[IntVec, U8Mat]] = []
    kind = np.full(n, -1, dtype=np.int8)
    gender = np.full(n, -1, dtype=np.int8)
    days = np.zeros(n, dtype=np.int64)
    date_ok = np.zeros(n, dtype=bool)
    has_address = np.zeros(n, dtype=bool)
    upgraded = np.zeros(n, dtype=bool)
    normalized = cleaned
    for width, (rows, mat) in groups.items():
        if not len(rows):
            continue
        legacy = width == 15
        full = _upgrade_matrix(mat) if legacy else mat
        res = _analyze_citizen(full, legacy, today_days)
        reason[rows] = res["reason"]
        kind[rows] = res["kind"]
        gender[rows] = res["gender"]
        days[rows] = res["days"]
        date_ok[rows] = res["date_ok"]
        has_address[rows] = res["has_address"]
        address_parts.append((rows, full[:, :6]))
        if legacy:
            good = res["reason"] < 0
            upgraded[rows[good]] = True
            if good.any():
                normalized = pc.replace_with_mask(
                    normalized, pa.array(upgraded), _strings_from_matrix(full[good])
                )
    valid = reason < 0
    address = _scatter_rows(n, 6, address_parts, has_address)
    known: pa.Array = pa.nulls(n, pa.bool_())
    if known_divisions is not None:
        value_set = pa.array(sorted({*known_divisions, *HMT_ADDRESS_CODES}), type=pa.string())
        known = _masked(pc.is_in(address, value_set=value_set), has_address)
    return pa.StructArray.from_arrays(
        [
            normalized,
            pa.array(valid, mask=~present),
            _labels(reason, CITIZEN_REASONS),
            _labels(kind, CITIZEN_KINDS),
            days_to_date32(days, date_ok),
            _labels(gender, ("1", "2")),
            address,
            _masked(cleaned, upgraded) if upgraded.any() else pa.nulls(n, pa.string()),
            known,
        ],
        names=[
            "normalized",
            "valid",
            "reason",
            "kind",
            "birth_date",
            "gender",
            "address_code",
            "upgraded_from",
            "division_known",
        ],
        mask=pa.array(~present),
    )


# --------------------------------------------------------------------------- USCC / org code


def _lookup(alphabet: str) -> U8Mat:
    table = np.full(256, 255, dtype=np.uint8)
    for value, char in enumerate(alphabet):
        table[ord(char)] = value
    return table


_USCC_LUT = _lookup(USCC_ALPHABET)
_ORG_LUT = _lookup(ORG_ALPHABET)
_ORG_CHECK_LUT = _lookup(ORG_CHECK_CHARS)
_ORG_W = np.asarray(ORG_WEIGHTS, dtype=np.uint16)
_USCC_W = np.asarray(USCC_WEIGHTS, dtype=np.uint16)
_ORG_CHECK_BYTES = np.frombuffer(ORG_CHECK_CHARS.encode(), dtype=np.uint8)


def _org_check_ok(body: U8Mat, check: U8Mat) -> BoolVec:
    """GB 11714 check of (m, 8) body bytes against (m,) check bytes (body assumed in alphabet)."""
    total = _weighted_sum(_ORG_LUT[body], _ORG_W)
    return np.asarray(_ORG_CHECK_BYTES[(11 - total % 11) % 11] == check, dtype=bool)


def validate_usccs(values: ArrayLike) -> pa.StructArray:
    """Vectorized :func:`validate_uscc`.

    Struct fields: ``normalized, valid, reason, registration_authority, category, division,
    org_code``; null input → null row.
    """
    cleaned = _prepare(values)
    present, non_ascii, groups = _by_width(cleaned, (18,))
    reason = np.where(present, 0, -1).astype(np.int8)
    reason[non_ascii] = 1
    rows, mat = groups[18]
    vals = _USCC_LUT[mat]
    charset_ok = (vals != 255).all(axis=1)
    expected = (31 - _weighted_sum(vals[:, :17], _USCC_W) % 31) % 31
    check_ok = expected == vals[:, 17]
    org_ok = _org_check_ok(mat[:, 8:16], mat[:, 16])
    reason[rows] = np.select([~charset_ok, ~check_ok, ~org_ok], [1, 2, 3], default=-1)
    structural = np.zeros(len(cleaned), dtype=bool)
    structural[rows[charset_ok]] = True

    def part(start: int, stop: int) -> pa.Array:
        return _scatter_rows(len(cleaned), stop - start, [(rows, mat[:, start:stop])], structural)

    return pa.StructArray.from_arrays(
        [
            cleaned,
            pa.array(reason < 0, mask=~present),
            _labels(reason, USCC_REASONS),
            part(0, 1),
            part(1, 2),
            part(2, 8),
            part(8, 17),
        ],
        names=[
            "normalized",
            "valid",
            "reason",
            "registration_authority",
            "category",
            "division",
            "org_code",
        ],
        mask=pa.array(~present),
    )


def validate_org_codes(values: ArrayLike) -> pa.StructArray:
    """Vectorized :func:`validate_org_code`. Struct fields: ``normalized, valid, reason,
    self_defined``; null input → null row."""
    cleaned = _prepare(values)
    present, non_ascii, groups = _by_width(cleaned, (9,))
    reason = np.where(present, 0, -1).astype(np.int8)
    reason[non_ascii] = 1
    rows, mat = groups[9]
    charset_ok = (_ORG_LUT[mat[:, :8]] != 255).all(axis=1) & (_ORG_CHECK_LUT[mat[:, 8]] != 255)
    check_ok = _org_check_ok(mat[:, :8], mat[:, 8])
    reason[rows] = np.select([~charset_ok, ~check_ok], [1, 2], default=-1)
    self_defined = np.full(len(cleaned), -1, dtype=np.int8)
    pdy = (mat[:, 0] == ord("P")) & (mat[:, 1] == ord("D")) & (mat[:, 2] == ord("Y"))
    self_defined[rows[charset_ok]] = pdy[charset_ok]
    return pa.StructArray.from_arrays(
        [
            cleaned,
            pa.array(reason < 0, mask=~present),
            _labels(reason, ORG_REASONS),
            pa.array(self_defined == 1, mask=self_defined < 0),
        ],
        names=["normalized", "valid", "reason", "self_defined"],
        mask=pa.array(~present),
    )

"""Check-character algorithms used by the demo generator.

The demo world must be *independently* correct: its answer key is an oracle for the hub's
own identifier module, so the generator must not import that module. These are small,
direct transcriptions of the standards (see reference/domain-standards.md §1).
"""

from __future__ import annotations

#: GB 11643-1999 (ISO 7064 MOD 11-2) weights for body positions 1..17.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

#: GB 32100-2015 character set (no I, O, S, V, Z) and weights 3^(i-1) mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

#: GB 11714-1997 weights for the 8 body characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def citizen_id_check_char(body17: str) -> str:
    """The GB 11643 check character ('0'-'9' or 'X') of a 17-digit body."""
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise ValueError(f"citizen ID body must be 17 ASCII digits, got {body17!r}")
    total = sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def citizen_id_is_valid(id18: str) -> bool:
    """True when ``id18`` is 17 ASCII digits plus the correct upper-case check char."""
    if len(id18) != 18 or not id18[:17].isascii() or not id18[:17].isdigit():
        return False
    return citizen_id_check_char(id18[:17]) == id18[17]


def upgrade_citizen_id(id15: str) -> str:
    """GB 11643-1989 15-digit number → 18 digits (century 19 inserted, check appended)."""
    if len(id15) != 15 or not id15.isdigit():
        raise ValueError(f"legacy citizen ID must be 15 digits, got {id15!r}")
    body = id15[:6] + "19" + id15[6:]
    return body + citizen_id_check_char(body)


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character of an 8-character organisation-code body."""
    if len(body8) != 8:
        raise ValueError(f"organisation code body must be 8 characters, got {body8!r}")
    total = 0
    for c, w in zip(body8, _ORG_WEIGHTS, strict=True):
        if c.isdigit():
            value = int(c)
        elif "A" <= c <= "Z":
            value = ord(c) - ord("A") + 10
        else:
            raise ValueError(f"invalid organisation code character {c!r}")
        total += value * w
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(body17: str) -> str:
    """The GB 32100 check character of a 17-character USCC body."""
    if len(body17) != 17:
        raise ValueError(f"USCC body must be 17 characters, got {body17!r}")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """True when ``code`` passes GB 32100 and its positions 9-17 pass GB 11714."""
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    if uscc_check_char(code[:17]) != code[17]:
        return False
    try:
        return org_code_check_char(code[8:16]) == code[16]
    except ValueError:
        return False

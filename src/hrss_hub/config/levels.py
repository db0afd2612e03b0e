"""Administrative levels of a hub and how its division code must look at each.

Three tiers exchange data: county (县级: 县, 县级市 and 市辖区 — ``county`` and ``district``
name the same tier), city (地级: prefecture-level cities, 地区, 自治州, 盟) and province
(省级, including the four municipalities). Reporting up (上报) and distributing down (下发)
go between tiers; hubs of one tier are peers.

A division is a six-digit GB/T 2260 code: ``51`` province, ``5101`` prefecture, ``510107``
county. A county-tier hub's code has a non-zero last pair, a city's ends in ``00``, a
province's in ``0000`` (a municipality's city-tier hub may use its province code).
"""

from __future__ import annotations

import re

#: accepted values of ``level`` (county and district are one tier)
LEVELS = ("county", "district", "city", "province")
#: level → tier
TIERS = {"county": "county", "district": "county", "city": "city", "province": "province"}
#: tier → rank (higher is up)
RANKS = {"county": 0, "city": 1, "province": 2}
#: province-level municipalities (直辖市): their city tier is the province code
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})

#: what else ``level`` accepts (case and surrounding spaces ignored): the Chinese names of
#: each tier's units. Every county-level unit — 县, 县级市, 市辖区 (区), 自治县, 旗 — is the
#: county tier; a bare 市 is not accepted (地级市 or 县级市?)
LEVEL_ALIASES = {
    "县": "county", "县级": "county", "县级市": "county", "区": "county", "市辖区": "county",
    "自治县": "county", "旗": "county", "自治旗": "county", "林区": "county", "特区": "county",
    "地级": "city", "地级市": "city", "地区": "city", "自治州": "city", "盟": "city",
    "省": "province", "省级": "province", "自治区": "province", "直辖市": "province",
}

_DIVISION = re.compile(r"^[1-9]\d{5}$")


def canonical_level(value: object) -> object:
    """``value`` as one of :data:`LEVELS` when it names one (``County``, ``县``, ``县级市``,
    ``区`` → ``county``); anything else unchanged, for the caller to reject."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    lowered = text.lower()
    if lowered in LEVELS:
        return lowered
    return LEVEL_ALIASES.get(text, value)


def tier(level: str) -> str:
    """The tier of ``level`` (``district`` → ``county``)."""
    return TIERS[level]


def rank(level: str | None) -> int | None:
    """0 county, 1 city, 2 province; ``None`` for anything else (e.g. a department)."""
    if level is None or level not in TIERS:
        return None
    return RANKS[TIERS[level]]


def direction(hub_level: str, recipient_level: str | None) -> str:
    """``up`` (上报), ``down`` (下发) or ``peer`` (same tier, or a department)."""
    ours, theirs = rank(hub_level), rank(recipient_level)
    if ours is None or theirs is None or ours == theirs:
        return "peer"
    return "up" if theirs > ours else "down"


def division_problem(level: str, division: str) -> str | None:
    """Why ``division`` cannot be the division of a hub at ``level`` (``None`` if it can)."""
    if not _DIVISION.match(division):
        return f"division must be a six-digit GB/T 2260 code, got {division!r}"
    t = TIERS.get(level)
    if t == "county" and division.endswith("00"):
        return (f"level {level} is the county tier (县/县级市/区), but {division} is a "
                "prefecture or province code")
    if t == "city" and (not division.endswith("00") or (
            division.endswith("0000") and division[:2] not in MUNICIPALITIES)):
        return f"level city needs a prefecture-level code ending in 00, got {division}"
    if t == "province" and not division.endswith("0000"):
        return f"level province needs a province code ending in 0000, got {division}"
    return None

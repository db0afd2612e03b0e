"""The model of a sharing agreement file (``sharing/<recipient>.yaml``).

What an agreement means — column actions, row scope, validity — is explained in
:mod:`hrss_hub.exchange.policy`, which turns a validated file into an ``Agreement`` and
checks it against the standard. Here is only the file's shape, so that every problem of an
agreement is reported at once with its line, and so that DAG-parse code can read agreements
without pyarrow.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from hrss_hub.config import levels
from hrss_hub.config.model import FileModel, Name, fail

#: what happens to a column: the value, a display mask, a per-recipient HMAC, or nothing
ACTIONS = ("keep", "partial", "pseudonym", "drop")
Action = Literal["keep", "partial", "pseudonym", "drop"]

_RECIPIENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
_PREFIX = re.compile(r"^\d{1,6}$")


def _iso_date(value: Any) -> Any:
    # YAML reads 2026-01-01 as a date; a quoted "2026-01-01" is text. A number such as
    # 20261231 must not become a Unix timestamp (pydantic's lax reading of int → date).
    if isinstance(value, datetime):
        raise fail(f"must be a date (YYYY-MM-DD) without a time, got {value.isoformat()}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise fail(f"must be a date (YYYY-MM-DD), got {value!r}")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _prefixes(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        text = str(v)
        if not _PREFIX.match(text):
            raise fail(f"division prefix {text!r} must be 1–6 digits (GB/T 2260)",
                       "e.g. division_prefix: \"510107\" or [\"5101\", \"5102\"]")
        out.append(text)
    return tuple(out)


class RowScope(FileModel):
    """``rows:``: which rows are delivered (by division code prefix)."""

    division_prefix: Annotated[tuple[str, ...], BeforeValidator(_prefixes)]


class Recipient(FileModel):
    """``recipient:``: who receives the data."""

    id: Name
    name: Name
    level: Annotated[Literal["county", "district", "city", "province"] | None,
                     BeforeValidator(levels.canonical_level)] = Field(
        default=None, title="recipient level")
    division: str | None = None

    @field_validator("id")
    @classmethod
    def _id_form(cls, value: str) -> str:
        if not _RECIPIENT_ID.match(value):
            raise fail(f"recipient id {value!r} must be lower-case letters, digits, - or _ "
                       "(2–63 characters)",
                       "it names the recipient's outbox folder and pseudonym key")
        return value

    @field_validator("division")
    @classmethod
    def _division_form(cls, value: str | None) -> str | None:
        if value is not None:
            problem = levels.division_problem("", value)
            if problem:
                raise fail(problem)
        return value


class GrantFile(FileModel):
    """``datasets.<name>``: the columns granted on one dataset, and an optional row scope."""

    columns: dict[str, Action] = Field(default_factory=dict, validate_default=True,
                                       title="action")
    rows: RowScope | None = None

    @field_validator("columns")
    @classmethod
    def _some_columns(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise fail("a dataset grant needs columns (column: action)",
                       "columns are denied by default: list each one you share")
        return value


class AgreementFile(FileModel):
    """One sharing agreement as written."""

    recipient: Recipient
    purpose: Name
    legal_basis: Name
    valid_from: IsoDate
    valid_to: IsoDate
    rows: RowScope | None = None
    datasets: dict[str, GrantFile] = Field(default_factory=dict, validate_default=True)
    allow_raw_identifiers: bool = False
    #: withdrawn before its end date: delivers nothing from now on
    revoked: bool = False
    description: str = ""

    @field_validator("datasets")
    @classmethod
    def _some_datasets(cls, value: dict[str, GrantFile]) -> dict[str, GrantFile]:
        if not value:
            raise fail("datasets must map dataset names to grants",
                       "e.g. datasets: {person: {columns: {gender: keep}}}")
        return value

    @field_validator("valid_to")
    @classmethod
    def _period(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("valid_from")
        if start is not None and start > value:
            raise fail(f"valid_to ({value}) is before valid_from ({start})")
        return value

"""What the two steward queues share: the record-linkage reviews (:mod:`hrss_hub.master.review`)
and the findings (:mod:`.lifecycle`) are tables of the ledger that a steward decides on,
one row at a time, with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from hrss_hub.errors import ConfigError

R = TypeVar("R")


class LedgerStore:
    """A store over tables of one ledger: sessions, and transactions whose database
    errors become the ledger's errors."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self._sessions = sessionmaker(ledger.engine, expire_on_commit=False)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.ledger._errors(), self._sessions() as s, s.begin():
            yield s


def decided_row(s: Session, model: type[R], key: str, *, kind: str, reason: str,
                example: str, list_command: str) -> R:
    """The row ``key`` of ``model`` a steward decides on, once the decision has a reason;
    a :class:`~hrss_hub.errors.ConfigError` without a reason or without such a row."""
    if not reason.strip():
        raise ConfigError("a reason is required", {kind: key},
                          f"say why, e.g. --reason '{example}'")
    row = s.get(model, key)
    if row is None:
        raise ConfigError(f"no {kind} {key!r}", {kind: key}, f"list them with `{list_command}`")
    return row

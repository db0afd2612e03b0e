"""Portable "insert or update" / "insert or ignore" for the three supported backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, and_, exists, insert, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from hrss_hub.ledger.models import Base


def upsert(s: Session, model: type[Base], values: dict[str, Any], keys: Sequence[str],
           update: Sequence[str]) -> None:
    """Insert ``values``, or update the ``update`` columns of the row with the same ``keys``.

    One statement, so two writers racing on the same key cannot both insert.
    """
    stmt: Executable
    dialect = s.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
        ins = ins.values(**values)
        stmt = ins.on_conflict_do_update(index_elements=list(keys),
                                         set_={c: ins.excluded[c] for c in update})
    elif dialect in ("mysql", "mariadb"):
        my = mysql.insert(model).values(**values)
        stmt = my.on_duplicate_key_update({c: my.inserted[c] for c in update})
    else:  # pragma: no cover - other backends: correct, but racy between writers
        s.merge(model(**values))
        return
    s.execute(stmt)


def insert_missing(s: Session, model: type[Base], rows: Sequence[dict[str, Any]],
                   keys: Sequence[str]) -> None:
    """Insert those of ``rows`` whose ``keys`` are not in the table yet (reruns are no-ops)."""
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
        s.execute(ins.on_conflict_do_nothing(index_elements=list(keys)), list(rows))
    elif dialect in ("mysql", "mariadb"):
        # a no-op update rather than INSERT IGNORE, which would also hide real errors
        my = mysql.insert(model)
        first = keys[0]
        s.execute(my.on_duplicate_key_update({first: my.inserted[first]}), list(rows))
    else:  # pragma: no cover
        table = model.__table__
        for row in rows:
            cond = and_(*(table.c[k] == row[k] for k in keys))
            if not s.execute(select(exists().where(cond))).scalar():
                s.execute(insert(model).values(**row))

"""SQL ↔ Arrow types: reflection, declared ``schema:`` types, conforming batches.

(The JSON form of cursor values lives with the cursor logic, in ``incremental.py``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

#: precision Arrow's decimal128 can hold
_MAX_DECIMAL_PRECISION = 38


def arrow_type(sql_type: sa.types.TypeEngine[Any]) -> pa.DataType:
    """The Arrow type a reflected SQL column is read as.

    Integers → int64 (one width, so a source widening SMALLINT → INT is not drift);
    NUMERIC(p, s) → decimal128(p, s) (exact money); FLOAT/REAL/unbounded NUMERIC → float64;
    DATE → date32; DATETIME/TIMESTAMP → timestamp[us] (UTC-tagged when the column is
    time-zone aware); BOOLEAN → bool; binary → binary; anything else → string.
    """
    if isinstance(sql_type, sa.Boolean):
        return pa.bool_()
    if isinstance(sql_type, sa.Integer):
        return pa.int64()
    if isinstance(sql_type, sa.Float | sa.Double):
        return pa.float64()
    if isinstance(sql_type, sa.Numeric):
        precision, scale = sql_type.precision, sql_type.scale
        if precision and precision <= _MAX_DECIMAL_PRECISION:
            return pa.decimal128(precision, scale or 0)
        return pa.float64()
    if isinstance(sql_type, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if sql_type.timezone else None)
    if isinstance(sql_type, sa.Date):
        return pa.date32()
    if isinstance(sql_type, sa.Time):
        return pa.time64("us")
    if isinstance(sql_type, sa.LargeBinary | sa.types._Binary):
        return pa.binary()
    return pa.string()


def sql_type(arrow: pa.DataType) -> sa.types.TypeEngine[Any]:
    """An SQL type for binding a parameter compared with a column of type ``arrow``."""
    if pa.types.is_timestamp(arrow):
        return sa.DateTime(timezone=arrow.tz is not None)
    if pa.types.is_date(arrow):
        return sa.Date()
    if pa.types.is_integer(arrow):
        return sa.BigInteger()
    if pa.types.is_decimal(arrow):
        return sa.Numeric(arrow.precision, arrow.scale)
    if pa.types.is_floating(arrow):
        return sa.Float()
    if pa.types.is_boolean(arrow):
        return sa.Boolean()
    return sa.String()


#: declared type names accepted in a stream's ``schema:`` (e.g. ``{AAE180: decimal128(12,2)}``)
def parse_type_name(name: str) -> pa.DataType:
    """Parse ``int64``, ``float64``, ``string``, ``date32``, ``bool``, ``timestamp[us]``,
    ``timestamp[us, tz=UTC]`` or ``decimal128(p,s)``; ``ValueError`` otherwise."""
    text = name.strip().replace(" ", "")
    simple = {"int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(),
              "double": pa.float64(), "string": pa.string(), "date32": pa.date32(),
              "date": pa.date32(), "bool": pa.bool_(), "boolean": pa.bool_(),
              "timestamp": pa.timestamp("us"), "timestamp[us]": pa.timestamp("us"),
              "timestamp[us,tz=UTC]": pa.timestamp("us", tz="UTC"), "binary": pa.binary()}
    if text in simple:
        return simple[text]
    if text.startswith("decimal128(") and text.endswith(")"):
        precision, scale = text[len("decimal128("):-1].split(",")
        return pa.decimal128(int(precision), int(scale))
    raise ValueError(f"unknown type {name!r}; valid: {', '.join(sorted(simple))}, "
                     "decimal128(p,s)")


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``schema``: columns by name, cast where the type differs."""
    arrays = []
    for field in schema:
        column = batch.column(field.name)
        if column.type != field.type:
            column = column.cast(field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def check_declared_schema(schema: Mapping[str, Any] | None, context: Mapping[str, Any],
                          where: str) -> None:
    """Every type of a stream's declared ``schema:`` parses (ConfigError naming the path)."""
    from hrss_hub.errors import ConfigError

    for col, type_name in (schema or {}).items():
        try:
            parse_type_name(str(type_name))
        except ValueError as exc:
            raise ConfigError(str(exc), {**context, "path": f"{where}.schema.{col}"}) from None

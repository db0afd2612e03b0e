"""SQL ↔ Arrow types: reflection, declared ``schema:`` types, conforming batches.

(The JSON form of cursor values lives with the cursor logic, in ``incremental.py``.)
"""

from __future__ import annotations

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


#: Arrow type of each declared type name (which names exist: ``options.schema_type``)
_DECLARED: dict[str, pa.DataType] = {
    "int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64(),
    "double": pa.float64(), "string": pa.string(), "date32": pa.date32(),
    "date": pa.date32(), "bool": pa.bool_(), "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"), "timestamp[us]": pa.timestamp("us"),
    "timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"), "binary": pa.binary()}


def parse_type_name(name: str) -> pa.DataType:
    """The Arrow type of a declared type name of a stream's ``schema:`` (``int64``,
    ``timestamp[us, tz=UTC]``, ``decimal128(p,s)`` …; which names exist is decided by
    :func:`hrss_hub.connectors.options.schema_type`); ``ValueError`` otherwise."""
    from hrss_hub.connectors.options import schema_type

    canonical = schema_type(name)
    if canonical.startswith("decimal128("):
        precision, scale = canonical[len("decimal128("):-1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return _DECLARED[canonical]


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``schema``: columns by name, cast where the type differs."""
    arrays = []
    for field in schema:
        column = batch.column(field.name)
        if column.type != field.type:
            column = column.cast(field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)

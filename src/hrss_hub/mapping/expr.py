"""Safe arithmetic expressions over source columns (``expr: "AAE180 * 0.08"``).

Only ``+ - * /``, unary minus, parentheses, numbers and column names are allowed; the
expression is parsed with :mod:`ast` (never ``eval``) and evaluated with pyarrow.compute
in *decimal* arithmetic: money is never binary floating point (``6785.00 * 0.005`` is
exactly ``33.925``, which float64 holds as 33.92499…). The compiler then rounds to the
target scale with 四舍五入 (half away from zero: 33.925 → 33.93, −33.925 → −33.93) —
see :func:`round_half_up`.

Operands: decimal source columns are used as they are; integers become ``decimal(19, 0)``;
text is read as a plain decimal number of at most :data:`TEXT_SCALE` decimals (thousands
separators removed) — anything else is an invalid value, reported per row by
:func:`numeric_operand`, never rounded silently; float columns (spreadsheets) are taken at
:data:`TEXT_SCALE` decimals. Intermediate results wider than :data:`MAX_OPERAND_PRECISION`
digits are cut (toward zero) to at most :data:`TEXT_SCALE` decimals so that products stay
within decimal128; cutting toward zero keeps every value on its side of the final rounding
boundary, so the final 四舍五入 is exact for money.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import MappingError

#: decimals kept from text and float operands (rates like 0.0005 need more than cents)
TEXT_SCALE = 6
#: operands wider than this are narrowed first (p1 + p2 + 1 must stay ≤ 38 in a product)
MAX_OPERAND_PRECISION = 18
#: 四舍五入: halves go away from zero
HALF_UP = "half_towards_infinity"

_OPS: dict[type[ast.operator], Callable[..., pa.Array]] = {
    ast.Add: pc.add_checked,
    ast.Sub: pc.subtract_checked,
    ast.Mult: pc.multiply_checked,
    ast.Div: pc.divide_checked,
}

#: a plain decimal number as text: sign, ≤ 12 integer digits, ≤ TEXT_SCALE decimals
_NUMBER = rf"^[-+]?(\d{{1,12}}(\.\d{{0,{TEXT_SCALE}}})?|\.\d{{1,{TEXT_SCALE}}})$"


def _parse(text: str) -> ast.expr:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise MappingError(f"invalid expression {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Name,
                   ast.Constant, ast.Load, *_OPS)
        if not isinstance(node, allowed):
            raise MappingError(
                f"expression {text!r} uses {type(node).__name__}; only + - * / numbers "
                "and column names are allowed")
        if isinstance(node, ast.Constant) and (
                isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
            raise MappingError(f"expression {text!r}: constant {node.value!r} is not a number")
    return tree.body


def expression_columns(text: str) -> list[str]:
    """Column names an expression reads, in order of appearance."""
    return [n.id for n in ast.walk(_parse(text)) if isinstance(n, ast.Name)]


def _constant(text: str, node: ast.Constant) -> pa.Scalar:
    # the literal as written in the YAML: 0.005 is the decimal 0.005, not float(0.005)
    segment = ast.get_source_segment(text, node)
    literal = Decimal(segment if segment else repr(node.value))
    return pa.scalar(literal, _decimal_type_of(literal))


def _decimal_type_of(value: Decimal) -> pa.Decimal128Type:
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    precision = max(len(digits), scale, 1)
    return pa.decimal128(min(38, precision), scale)


def numeric_operand(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``(decimal values, invalid)`` of one source column used in an expression.

    ``invalid`` is True where a non-empty text value is not a plain decimal number (at
    most 12 integer digits and :data:`TEXT_SCALE` decimals, thousands separators allowed);
    those rows get a null operand.
    """
    n = len(col)
    none = pa.repeat(pa.scalar(False), n)
    if pa.types.is_decimal(col.type):
        return col, none
    if pa.types.is_integer(col.type):
        return pc.cast(col, pa.decimal128(19, 0)), none
    if pa.types.is_floating(col.type):
        rounded = pc.round(col, TEXT_SCALE, round_mode=HALF_UP)
        return pc.cast(rounded, pa.decimal128(MAX_OPERAND_PRECISION, TEXT_SCALE)), none
    text = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    if pc.any(pc.match_substring(text, ",")).as_py():
        text = pc.replace_substring(text, ",", "")
    text = pc.utf8_trim_whitespace(text)
    # Arrow's cast also reads exponents (1e3): those take the per-row check, like elsewhere
    exponent = any(pc.any(pc.match_substring(text, e)).as_py() for e in ("e", "E"))
    try:
        if exponent:
            raise pa.ArrowInvalid("exponent")
        # fast path: a column of plain numbers (the usual export) casts as a whole; any
        # value that does not fit makes the cast fail and the per-row check below runs
        return pc.cast(text, pa.decimal128(MAX_OPERAND_PRECISION, TEXT_SCALE)), none
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    blank = pc.fill_null(pc.equal(text, ""), True)
    good = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    invalid = pc.and_(pc.invert(blank), pc.invert(good))
    clean = pc.if_else(good, text, pa.scalar(None, pa.string()))
    return pc.cast(clean, pa.decimal128(MAX_OPERAND_PRECISION, TEXT_SCALE)), invalid


def _narrow(value: pa.Array | pa.Scalar) -> pa.Array | pa.Scalar:
    """Keep an operand within MAX_OPERAND_PRECISION digits (cut toward zero)."""
    dtype = value.type
    if not pa.types.is_decimal(dtype) or dtype.precision <= MAX_OPERAND_PRECISION:
        return value
    scale = min(dtype.scale, TEXT_SCALE)
    if scale < dtype.scale:
        value = pc.round(value, scale, round_mode="towards_zero")
    try:
        return pc.cast(value, pa.decimal128(MAX_OPERAND_PRECISION, scale))
    except pa.ArrowInvalid:
        raise MappingError(
            f"an intermediate value needs more than {MAX_OPERAND_PRECISION - scale} integer "
            "digits", hint="check the expression's units (yuan vs fen)") from None


def evaluate(text: str, columns: Callable[[str], pa.Array]) -> pa.Array:
    """Evaluate ``text`` in decimal arithmetic; ``columns(name)`` gives decimal arrays
    (see :func:`numeric_operand`). Division by zero raises ``MappingError``."""

    def ev(node: ast.expr) -> pa.Array | pa.Scalar:
        if isinstance(node, ast.Name):
            return columns(node.id)
        if isinstance(node, ast.Constant):
            return _constant(text, node)
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return pc.negate(value) if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return _OPS[type(node.op)](_narrow(ev(node.left)), _narrow(ev(node.right)))
        raise MappingError(f"unsupported expression node {type(node).__name__}")

    try:
        result = ev(_parse(text))
    except (pa.ArrowInvalid, ZeroDivisionError) as exc:
        raise MappingError(f"expression {text!r} failed: {exc}",
                           hint="a divisor is zero or a value is out of range") from None
    if isinstance(result, pa.Scalar):
        raise MappingError(f"expression {text!r} reads no column")
    return result


def round_half_up(values: pa.Array, scale: int) -> pa.Array:
    """Round decimals to ``scale`` decimals with 四舍五入 (half away from zero)."""
    return pc.round(values, scale, round_mode=HALF_UP)

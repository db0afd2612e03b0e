"""Safe arithmetic expressions over source columns (``expr: "AAE180 * 0.08"``).

Only ``+ - * /``, unary minus, parentheses, numbers and column names are allowed; the
expression is parsed with :mod:`ast` (never ``eval``) and evaluated with pyarrow.compute
on float64 columns. Money is rounded to the target scale afterwards by the compiler.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import MappingError

_OPS: dict[type[ast.operator], Callable[..., pa.Array]] = {
    ast.Add: pc.add_checked,
    ast.Sub: pc.subtract_checked,
    ast.Mult: pc.multiply_checked,
    ast.Div: pc.divide,
}


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
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise MappingError(f"expression {text!r}: constant {node.value!r} is not a number")
    return tree.body


def expression_columns(text: str) -> list[str]:
    """Column names an expression reads, in order of appearance."""
    return [n.id for n in ast.walk(_parse(text)) if isinstance(n, ast.Name)]


def evaluate(text: str, columns: Callable[[str], pa.Array]) -> pa.Array:
    """Evaluate ``text`` with ``columns(name)`` giving float64 arrays."""

    def ev(node: ast.expr) -> pa.Array | pa.Scalar:
        if isinstance(node, ast.Name):
            return columns(node.id)
        if isinstance(node, ast.Constant):
            value = node.value
            assert isinstance(value, (int, float))  # checked by _parse
            return pa.scalar(float(value), pa.float64())
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return pc.negate(value) if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        raise MappingError(f"unsupported expression node {type(node).__name__}")

    result = ev(_parse(text))
    if isinstance(result, pa.Scalar):
        raise MappingError(f"expression {text!r} reads no column")
    return result

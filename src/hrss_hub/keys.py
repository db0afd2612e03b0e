"""One encoding of (composite) keys as text: injective, readable, vectorized over Arrow.

A key is a tuple of values, one per key column. Every place that must compare, store or
show keys uses this module: the row gate's duplicate detection, the connectors' boundary
keys, the mapping's ``source_key`` lineage column and the exchange's merge key. Two
different tuples never encode to the same text.

The encoding:

* every value is first turned into text by Arrow's cast to ``string`` (integers ``42``,
  decimals ``1000.50``, dates ``2024-03-01``, timestamps ``2024-03-01 08:30:00.123456``);
* in each part ``\\`` becomes ``\\\\`` and ``|`` becomes ``\\|``; a NULL part is ``\\N``;
* the parts are joined with ``|``.

So simple keys stay as stewards know them (``P001``; ``P001|2024-05`` for two columns) and
only values that contain ``\\`` or ``|`` are escaped (``("A|B", "C")`` is ``A\\|B|C`` while
``("A", "B|C")`` is ``A|B\\|C``). Joining with a bare separator, as the first version did,
made those two the same key. :func:`decode` reverses the encoding; the hypothesis tests in
``tests/test_keys.py`` hold ``decode(encode(t)) == t`` for arbitrary tuples, which is what
makes the encoding injective.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

#: joins the parts of a composite key
SEPARATOR = "|"
#: escapes the separator, itself and the NULL marker inside a part
ESCAPE = "\\"
#: a NULL part (a text part can never be exactly this: its backslash would be doubled)
NULL = "\\N"


def _text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr


def encode_part(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One key column as escaped text parts (``\\N`` for NULL), vectorized."""
    text = _text(values)
    escaped = pc.replace_substring(text, ESCAPE, ESCAPE + ESCAPE)
    escaped = pc.replace_substring(escaped, SEPARATOR, ESCAPE + SEPARATOR)
    return pc.fill_null(escaped, NULL)


def encode_columns(columns: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Array:
    """The key of every row of ``columns`` (one array per key column, equal lengths).

    Returns a ``string`` array without nulls. A single column is encoded like a composite
    key of one part, so ``("A|B",)`` and ``("A", "B")`` stay distinct.
    """
    if not columns:
        raise ValueError("a key needs at least one column")
    parts = [encode_part(c) for c in columns]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, SEPARATOR)


def encode_table(table: pa.Table | pa.RecordBatch, key_columns: Sequence[str]) -> pa.Array:
    """The key of every row of ``table`` over ``key_columns`` (see :func:`encode_columns`)."""
    return encode_columns([table.column(name) for name in key_columns])


def encode_value(value: str | None) -> str:
    """Scalar reference for one already-textual part (``None`` is NULL)."""
    if value is None:
        return NULL
    return value.replace(ESCAPE, ESCAPE + ESCAPE).replace(SEPARATOR, ESCAPE + SEPARATOR)


def encode(parts: Sequence[str | None]) -> str:
    """Scalar reference of :func:`encode_columns` for one key given as text parts."""
    if not parts:
        raise ValueError("a key needs at least one part")
    return SEPARATOR.join(encode_value(p) for p in parts)


def decode(key: str) -> tuple[str | None, ...]:
    """The text parts of an encoded key (``None`` for a NULL part).

    Raises ``ValueError`` for text that no key encodes to (a dangling or unknown escape),
    e.g. a key a steward mistyped.
    """
    parts: list[str | None] = []
    current: list[str] = []
    null = False
    i, n = 0, len(key)
    while i < n:
        ch = key[i]
        if ch == ESCAPE:
            if i + 1 >= n:
                raise ValueError(f"key {key!r} ends with a lone {ESCAPE!r}")
            nxt = key[i + 1]
            if nxt in (ESCAPE, SEPARATOR):
                current.append(nxt)
            elif nxt == "N" and not current and not null and (i + 2 == n or
                                                              key[i + 2] == SEPARATOR):
                null = True
            else:
                raise ValueError(f"key {key!r} has an unknown escape {ESCAPE}{nxt}")
            i += 2
            continue
        if ch == SEPARATOR:
            parts.append(None if null else "".join(current))
            current, null = [], False
        else:
            current.append(ch)
        i += 1
    parts.append(None if null else "".join(current))
    return tuple(parts)

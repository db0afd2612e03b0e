"""Folding names for comparison: separator-dot variants and traditional characters.

Two systems that hold 陳國華 and 陈国华, or 阿依古丽.买买提 and 阿依古丽·买买提, hold the
same name. Folding applies the standard's name normalizer (dot variants → U+00B7) and then
OpenCC's traditional → simplified conversion (the pure-Python port of the OpenCC
dictionaries). Only distinct names are converted, so the cost follows the number of
different names, not of records.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa

from hrss_hub.standard.normalize import normalize_name


@cache
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def fold_name(name: str | None) -> str | None:
    """One name folded (``None`` stays ``None``)."""
    if name is None:
        return None
    dotted = normalize_name(pa.array([name], pa.string()))[0].as_py()
    return None if dotted is None else str(_converter().convert(dotted))


def fold_table(names: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``name`` → ``name_folded`` for the distinct non-null names of ``names``."""
    import pyarrow.compute as pc

    distinct = pc.unique(names).drop_null()
    dotted = normalize_name(distinct).to_pylist()
    conv = _converter()
    folded = [None if d is None else str(conv.convert(d)) for d in dotted]
    return pa.table({"name": distinct.cast(pa.string()),
                     "name_folded": pa.array(folded, pa.string())})

"""The rules' vectorized helpers equal a plain-Python reference (hypothesis)."""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from hrss_hub.quality.rules.kernels import iso_dates

_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _reference(text: str | None) -> date | None:
    """A canonical date: exactly ``YYYY-MM-DD`` in ASCII digits, a real day, year ≥ 1."""
    if text is None or not _SHAPE.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


_dates = st.builds(lambda y, m, d, sep: f"{y:04d}{sep}{m:02d}{sep}{d:02d}",
                   st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
                   st.sampled_from(["-", "-", "-", "/", "－"]))
_texts = st.one_of(_dates, st.text(max_size=12), st.none(),
                   _dates.map(lambda s: " " + s), _dates.map(lambda s: s.replace("1", "１")))


@settings(max_examples=300, deadline=None)
@given(st.lists(_texts, max_size=40), st.integers(0, 3))
def test_iso_dates_equal_the_reference(values: list[str | None], offset: int) -> None:
    arr = pa.array(values, pa.string()).slice(min(offset, len(values)))
    got, ok = iso_dates(arr)
    want = [_reference(v) for v in arr.to_pylist()]
    assert got.to_pylist() == want
    assert ok.to_pylist() == [w is not None for w in want]

"""The one incremental module: inclusive watermark, boundary keys, legacy states."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from hrss_hub.connectors.incremental import Incremental, Watermark, from_json_value, to_json_value

T = dt.datetime(2024, 5, 1, 9, 0, 0, 123456)


def batch(ids: list[str], sub: list[str], ts: list[dt.datetime | None]) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(ids), "sub": pa.array(sub),
                            "ts": pa.array(ts, pa.timestamp("us"))})


INC = Incremental("ts", ["id", "sub"], pa.timestamp("us"))


def test_rows_at_the_watermark_are_new_unless_delivered() -> None:
    b = batch(["A", "A", "B", "C", "D"], ["x", "y", "x", "x", "x"],
              [T, T, T, T + dt.timedelta(1), T - dt.timedelta(1)])
    since = Watermark(T.isoformat(), frozenset({"A|x", "B|x"}))
    new = INC.new_rows(b, since)
    assert new.mask.to_pylist() == [False, True, False, True, False]
    assert (new.older, new.repeated) == (1, 2)
    assert INC.new_rows(b, Watermark()).all_new


def test_boundary_keys_containing_the_separator_do_not_collide() -> None:
    # ("A|B", "C") was delivered at the watermark; ("A", "B|C") was not
    b = batch(["A|B", "A"], ["C", "B|C"], [T, T])
    since = INC.advance(Watermark(), b.slice(0, 1))
    assert since.keys == frozenset({"A\\|B|C"})
    assert INC.new_rows(b, since).mask.to_pylist() == [False, True]


def test_advance_moves_to_the_max_and_keeps_the_keys_at_it() -> None:
    first = INC.advance(Watermark(), batch(["A", "B", "C"], ["x"] * 3,
                                           [T, T + dt.timedelta(1), T + dt.timedelta(1)]))
    top = (T + dt.timedelta(1)).isoformat()
    assert first == Watermark(top, frozenset({"B|x", "C|x"}))
    # the same value continues in the next batch: keys accumulate
    second = INC.advance(first, batch(["D"], ["x"], [T + dt.timedelta(1)]))
    assert second.keys == frozenset({"B|x", "C|x", "D|x"})
    # only NULL cursors: nothing to record
    assert INC.advance(second, batch(["E"], ["x"], [None])) == second
    assert first.to_state() == {"cursor": top, "boundary_keys": ["B|x", "C|x"]}
    assert Watermark.from_state(first.to_state()) == first


def test_the_state_may_keep_the_sources_own_spelling() -> None:
    # a REST stream keeps the server's text for the cursor it sends back
    spelled = ["2024-05-01T17:00:00+08:00", "2024-05-01T09:00:00Z"]

    def parse(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)

    inc = Incremental("ts", ["id"], pa.timestamp("us"), parse=parse)
    b = pa.record_batch({"id": ["P1", "P2"], "ts": pa.array([parse(s) for s in spelled],
                                                            pa.timestamp("us"))})
    mark = inc.advance(Watermark(), b, lambda i: spelled[i])
    # the same instant spelled twice: the first spelling is kept, both keys are boundary
    assert mark.cursor == spelled[0] and mark.keys == frozenset({"P1", "P2"})
    # the first-version state shape: keys as lists of text parts
    legacy = Watermark.from_state({"cursor": spelled[1], "boundary_keys": [["P1"], ["P2"]]})
    assert legacy.keys == frozenset({"P1", "P2"})
    assert inc.new_rows(b, legacy).mask.to_pylist() == [False, False]


@pytest.mark.parametrize("state", [{"cursor": "x", "boundary_keys": "P1"},
                                   {"cursor": {"a": 1}}, {"cursor": "x", "boundary_keys": [1]}])
def test_malformed_states_are_refused(state: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Watermark.from_state(state)


@pytest.mark.parametrize(("value", "arrow"), [
    (T, pa.timestamp("us")), (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), pa.timestamp("us", "UTC")),
    (dt.date(2024, 1, 2), pa.date32()), (7, pa.int64()), (1.5, pa.float64()),
    ("P9", pa.string()), (b"\x01\xff", pa.binary())])
def test_cursor_json_round_trips(value: object, arrow: pa.DataType) -> None:
    assert from_json_value(to_json_value(value), arrow) == value


def test_an_incremental_needs_key_columns() -> None:
    with pytest.raises(ValueError, match="key columns"):
        Incremental("ts", [], pa.timestamp("us"))


def test_tables_with_chunked_columns_work_like_batches() -> None:
    b = batch(["A", "B", "C"], ["x"] * 3, [T, T, T + dt.timedelta(1)])
    table = pa.Table.from_batches([b.slice(0, 2), b.slice(2)])
    since = Watermark(T.isoformat(), frozenset({"A|x"}))
    assert INC.new_rows(table, since).mask.to_pylist() == [False, True, True]
    assert INC.advance(since, table) == INC.advance(since, b)

"""hrss_hub.threads: read-ahead iterators (order, errors, bounded queue, clean-up)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from hrss_hub.threads import parallel, prefetch


def test_prefetch_keeps_order_and_reads_ahead_boundedly() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    out = prefetch(items(), depth=2)
    assert next(out) == 0
    time.sleep(0.3)
    # one taken, two queued, one blocked in put: never the whole stream
    assert len(produced) <= 5
    assert [0, *out] == list(range(50))


def test_prefetch_reraises_the_producers_error_and_closes_on_early_exit() -> None:
    closed = threading.Event()

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("source broke")

    with pytest.raises(ValueError, match="source broke"):
        list(prefetch(failing()))

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    out = prefetch(endless())
    assert next(out) == 0
    out.close()  # the consumer stops (an error in the stream loop)
    assert closed.wait(2)  # the producer's generator was closed, its thread ended


def test_parallel_yields_every_item_of_every_producer() -> None:
    got = list(parallel([lambda: range(0, 100), lambda: range(100, 150)], max_pending=3))
    assert sorted(got) == list(range(150))

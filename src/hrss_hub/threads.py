"""Iterators driven by background threads through bounded queues.

Reading a batch (a database driver, a Parquet or CSV reader, Arrow kernels) mostly runs
outside the GIL, so a stream's next batch can be read on one core while the current one
is mapped and checked on the other. The queues are bounded: at most ``depth`` items wait,
so memory stays flat however long the stream is.

* :func:`parallel` — several producers at once, items in arrival order (a sql stream's
  key-range parts);
* :func:`prefetch` — one iterator, read ahead in order (the stream loop of a run).

Errors raised by a producer are re-raised in the consumer; closing the consumer (or an
error there) stops the producers and closes their iterators in their own threads.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def parallel(producers: list[Callable[[], Iterable[T]]], max_pending: int = 4) -> Iterator[T]:
    """Run ``producers`` in threads and yield their items as they come.

    The queue is bounded so memory stays bounded; closing the generator stops the threads.
    """
    pending: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max_pending)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump(producer: Callable[[], Iterable[T]]) -> None:
        try:
            items = iter(producer())
            try:
                for item in items:
                    if not put(("item", item)):
                        return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # a generator's clean-up runs in the thread that drove it
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer thread
            put(("error", exc))

    threads = [threading.Thread(target=pump, args=(p,), daemon=True, name="hrss-prefetch")
               for p in producers]
    for t in threads:
        t.start()
    running = len(threads)
    try:
        while running:
            tag, item = pending.get()
            if tag == "item":
                yield item
            elif tag == "done":
                running -= 1
            else:
                raise item
    finally:
        stop.set()
        # drain so blocked producers can exit, then wait for them: their iterators
        # (database cursors, open files) are closed before the caller goes on
        while any(t.is_alive() for t in threads):
            with contextlib.suppress(queue.Empty):
                pending.get(timeout=0.05)


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items`` in order, read ahead by a background thread (at most ``depth`` waiting)."""
    return parallel([lambda: items], max_pending=depth)

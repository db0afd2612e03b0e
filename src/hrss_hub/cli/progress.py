"""The progress display of ``hrss-hub run`` / ``hrss-hub demo`` on stderr.

On a terminal: one rich bar per stream with the rows read against the connector's
estimate, the percentage, rows/s and the time remaining (rich's ``TimeRemainingColumn``);
a stream whose size is unknown shows a spinner and its row count instead of a bar.
Elsewhere (a pipe, a log file): the plain lines of
:class:`~hrss_hub.run.progress.ProgressLines`, a periodic one at most every ``interval``
seconds. Disabled (``--quiet``, ``--json``): nothing, and no estimate is computed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from hrss_hub.run.progress import DEFAULT_INTERVAL, ProgressLines
from hrss_hub.run.summary import StreamSummary


class _KnownOr(ProgressColumn):
    """``known`` for a task with a total, ``unknown`` (or nothing) for one without."""

    def __init__(self, known: ProgressColumn, unknown: ProgressColumn | None = None) -> None:
        super().__init__()
        self.known, self.unknown = known, unknown

    def render(self, task: Task) -> RenderableType:
        """The column of whichever case the task is in."""
        if task.total is not None:
            return self.known.render(task)
        return self.unknown.render(task) if self.unknown is not None else Text("")


class RowsColumn(ProgressColumn):
    """``12,000/50,000 rows`` (``12,000 rows`` without a total)."""

    def render(self, task: Task) -> RenderableType:
        """The rows read, and the estimate when there is one."""
        done = int(task.completed)
        if task.total is None:
            return Text(f"{done:,} rows")
        return Text(f"{done:,}/{int(task.total):,} rows")


class RateColumn(ProgressColumn):
    """``3,100 rows/s`` (rich's speed over its recent samples)."""

    def render(self, task: Task) -> RenderableType:
        """The recent rate, or nothing before there is one."""
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s")


class TerminalProgress:
    """Progress bars on a terminal (rich), periodic plain lines otherwise.

    ``console``, ``tty`` and ``clock`` are for tests (a recording console, a fake clock):
    by default stderr, whether it is a terminal, and ``time.monotonic``.
    """

    def __init__(self, enabled: bool = True, *, console: Console | None = None,
                 tty: bool | None = None, interval: float = DEFAULT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic,
                 auto_refresh: bool = True) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._progress: Progress | None = None
        self._lines: ProgressLines | None = None
        self._tasks: dict[tuple[str, str], Any] = {}
        if not enabled:
            return
        if self.tty:
            self._progress = Progress(
                _KnownOr(SpinnerColumn(), SpinnerColumn()), TextColumn("{task.description}"),
                _KnownOr(BarColumn(), None), _KnownOr(TaskProgressColumn(), None),
                RowsColumn(), RateColumn(),
                _KnownOr(TimeRemainingColumn(), TimeElapsedColumn()),
                console=console or Console(stderr=True), transient=False, get_time=clock,
                auto_refresh=auto_refresh)
            self._progress.start()
        else:
            self._lines = ProgressLines(lambda line: click.echo(line, err=True),
                                        interval=interval, clock=clock)

    def renderable(self) -> RenderableType:
        """What the terminal shows now (tests print it to a recording console)."""
        assert self._progress is not None, "only a terminal display has bars"
        return self._progress.get_renderable()

    def stream_started(self, system: str, stream: str) -> None:
        """A bar (a spinner until the estimate is known), or a start line."""
        if self._progress is not None:
            self._tasks[(system, stream)] = self._progress.add_task(f"{system}/{stream}",
                                                                    total=None)
        elif self._lines is not None:
            self._lines.stream_started(system, stream)

    def stream_estimate(self, system: str, stream: str,
                        estimate: Callable[[], int | None]) -> None:
        """The bar gets its total (asked only when something is displayed)."""
        if self._progress is not None:
            total = estimate()
            if total is not None:
                self._progress.update(self._tasks[(system, stream)], total=total)
        elif self._lines is not None:
            self._lines.stream_estimate(system, stream, estimate)

    def rows_read(self, system: str, stream: str, rows: int) -> None:
        """Advance the bar, or count (and now and then print) the rows."""
        if self._progress is not None:
            self._progress.advance(self._tasks[(system, stream)], rows)
        elif self._lines is not None:
            self._lines.rows_read(system, stream, rows)

    def stream_finished(self, summary: StreamSummary) -> None:
        """A full bar at the rows really read, or the final line."""
        key = (summary.system, summary.stream)
        if self._progress is not None:
            self._progress.update(self._tasks[key], total=max(summary.read, 1),
                                  completed=max(summary.read, 1))
        elif self._lines is not None:
            self._lines.stream_finished(summary)

    def close(self) -> None:
        """Stop the live display."""
        if self._progress is not None:
            self._progress.stop()

"""Progress of a run's streams: rows read against the connector's estimate, rate and ETA.

The pure part of the progress displays (no terminal, no clock of its own): a
:class:`StreamProgress` per stream, fed with the row estimate
(:func:`hrss_hub.connectors.base.estimate_rows`) and the rows read, computes the
percentage, the rate and the time remaining; :func:`progress_line` words them.

:class:`ProgressLines` is the :class:`~hrss_hub.run.context.Progress` for places without a
terminal: it emits one line per stream start, at most one line every ``interval`` seconds
while a stream reads, and one when it ends. The CLI uses it when stderr is not a terminal
(``hrss-hub.cli.progress``) and the Airflow task ``sync_stream`` writes it to the task log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hrss_hub.run.summary import StreamSummary

#: seconds between two periodic lines of one stream (the first comes after this long too)
DEFAULT_INTERVAL = 10.0


@dataclass
class StreamProgress:
    """One stream's progress: ``done`` rows of about ``total`` (``None``: unknown)."""

    name: str
    started: float
    total: int | None = None
    done: int = 0

    def rate(self, now: float) -> float | None:
        """Rows per second since the stream started (``None`` before any row or time)."""
        elapsed = now - self.started
        return self.done / elapsed if self.done and elapsed > 0 else None

    def fraction(self) -> float | None:
        """Share of the estimate read, at most 1 (an estimate may fall short)."""
        if self.total is None:
            return None
        return 1.0 if self.total <= 0 else min(self.done / self.total, 1.0)

    def remaining(self, now: float) -> float | None:
        """Seconds left at the rate so far (``None`` without a total or a rate)."""
        rate = self.rate(now)
        if self.total is None or rate is None:
            return None
        return max(self.total - self.done, 0) / rate


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (what rich's TimeRemainingColumn shows too)."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def progress_line(p: StreamProgress, now: float) -> str:
    """``[sys/stream] 12,000 / 50,000 rows (24%), 3,100 rows/s, ETA 0:00:12``; without an
    estimate ``[sys/stream] 12,000 rows, 3,100 rows/s``."""
    parts = [f"{p.done:,} / {p.total:,} rows ({p.fraction() or 0:.0%})"
             if p.total is not None else f"{p.done:,} rows"]
    rate = p.rate(now)
    if rate is not None:
        parts.append(f"{rate:,.0f} rows/s")
    remaining = p.remaining(now)
    if remaining is not None:
        parts.append(f"ETA {format_duration(remaining)}")
    return f"[{p.name}] " + ", ".join(parts)


def finished_line(summary: StreamSummary) -> str:
    """``[sys/stream] succeeded: read …, published …, quarantined …, filtered … (1.2s)``."""
    return (f"[{summary.system}/{summary.stream}] {summary.status}: "
            f"read {summary.read}, published {summary.published}, "
            f"quarantined {summary.quarantined}, filtered {summary.filtered} "
            f"({summary.duration_seconds:.1f}s)")


class ProgressLines:
    """Plain progress lines through ``emit``: a start line (with the estimate when there
    is one), a periodic line at most every ``interval`` seconds, a final line."""

    def __init__(self, emit: Callable[[str], None], *, interval: float = DEFAULT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.emit = emit
        self.interval = interval
        self.clock = clock
        self.streams: dict[tuple[str, str], StreamProgress] = {}
        self._last: dict[tuple[str, str], float] = {}

    def stream_started(self, system: str, stream: str) -> None:
        """A new stream: its line says it started."""
        now = self.clock()
        self.streams[(system, stream)] = StreamProgress(f"{system}/{stream}", now)
        self._last[(system, stream)] = now
        self.emit(f"[{system}/{stream}] started")

    def stream_estimate(self, system: str, stream: str,
                        estimate: Callable[[], int | None]) -> None:
        """Ask the connector's estimate; a known one is worth a line."""
        p = self.streams.get((system, stream))
        if p is None:
            return
        p.total = estimate()
        if p.total is not None:
            self.emit(f"[{p.name}] about {p.total:,} rows to read")

    def rows_read(self, system: str, stream: str, rows: int) -> None:
        """Count the rows; a line when ``interval`` seconds passed since the last one."""
        key = (system, stream)
        p = self.streams.get(key)
        if p is None:
            return
        p.done += rows
        now = self.clock()
        if now - self._last[key] >= self.interval:
            self._last[key] = now
            self.emit(progress_line(p, now))

    def stream_finished(self, summary: StreamSummary) -> None:
        """The stream's final counts."""
        self.streams.pop((summary.system, summary.stream), None)
        self.emit(finished_line(summary))

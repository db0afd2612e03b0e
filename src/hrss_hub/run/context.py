"""The run context: what every step of one run needs, passed explicitly.

No module-level run state anywhere: a step gets a :class:`RunContext` (and a stream's
steps a :class:`~hrss_hub.run.stream.StreamRun`), so an Airflow task in its own process
builds the same context from the config path and the run id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hrss_hub.config import HubConfig
from hrss_hub.ledger import Ledger
from hrss_hub.run.summary import StreamSummary
from hrss_hub.standard.model import Standard


class Progress(Protocol):
    """Receives progress events (the CLI renders them as bars or plain lines)."""

    def stream_started(self, system: str, stream: str) -> None: ...

    def stream_estimate(self, system: str, stream: str,
                        estimate: Callable[[], int | None]) -> None:
        """Before the stream's first row: ``estimate()`` says about how many rows it will
        read (``None``: unknown). It costs a query or a request, so a display that shows
        no total does not call it."""

    def rows_read(self, system: str, stream: str, rows: int) -> None: ...

    def stream_finished(self, summary: StreamSummary) -> None: ...


class NoProgress:
    """A :class:`Progress` that ignores every event (orchestrators, tests)."""

    def stream_started(self, system: str, stream: str) -> None:
        """Ignored."""

    def stream_estimate(self, system: str, stream: str,
                        estimate: Callable[[], int | None]) -> None:
        """Ignored (the estimate is not computed)."""

    def rows_read(self, system: str, stream: str, rows: int) -> None:
        """Ignored."""

    def stream_finished(self, summary: StreamSummary) -> None:
        """Ignored."""


def _no_guard() -> None:
    """The default guard: nothing to check."""


@dataclass(frozen=True)
class RunContext:
    """One open run: the workspace config, the standard, the ledger and the run id.

    ``guard`` is called before each stream commits (the run-lock check: it raises
    :class:`~hrss_hub.errors.RunLockLostError` once the run's lock was taken over).
    The suites belong to the stream's validator (:mod:`hrss_hub.quality.validate`), the
    store to the exchange's publish step; both are reached through ``cfg``.
    """

    cfg: HubConfig
    standard: Standard
    ledger: Ledger
    run_id: str
    progress: Progress = field(default_factory=NoProgress)
    guard: Callable[[], None] = _no_guard

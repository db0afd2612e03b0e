"""``hrss-hub run``'s progress display (hrss_hub.cli.progress): rich bars with total, rows,
rows/s and ETA on a terminal, a spinner when the size is unknown, plain lines elsewhere,
nothing (and no estimate) under --quiet / --json. A fake clock drives rich (no timing)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from hrss_hub.cli.progress import TerminalProgress
from hrss_hub.run.summary import StreamSummary


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _screen(progress: TerminalProgress) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, width=160, record=True,
                      color_system=None)
    console.print(progress.renderable())
    return console.export_text()


def _terminal(clock: Clock) -> TerminalProgress:
    hidden = Console(file=io.StringIO(), force_terminal=True, width=160)
    return TerminalProgress(console=hidden, tty=True, clock=clock, auto_refresh=False)


def test_a_bar_with_total_rows_rate_and_eta() -> None:
    clock = Clock()
    progress = _terminal(clock)
    try:
        progress.stream_started("hr_db", "staff")
        progress.stream_estimate("hr_db", "staff", lambda: 1000)
        for _ in range(4):
            clock.now += 1.0
            progress.rows_read("hr_db", "staff", 100)
        screen = _screen(progress)
        assert "hr_db/staff" in screen
        assert "400/1,000 rows" in screen and "40%" in screen
        assert "100 rows/s" in screen  # 300 rows in the 3 s between the first and last sample
        assert "0:00:06" in screen  # 600 rows left at 100 rows/s
        assert "━" in screen  # the bar
    finally:
        progress.close()


def test_a_spinner_and_the_row_count_when_the_size_is_unknown() -> None:
    clock = Clock()
    progress = _terminal(clock)
    try:
        progress.stream_started("files", "roster")
        progress.stream_estimate("files", "roster", lambda: None)
        clock.now += 2.0
        progress.rows_read("files", "roster", 1234)
        screen = _screen(progress)
        assert "1,234 rows" in screen
        assert "%" not in screen and "━" not in screen and "/1" not in screen
        assert "0:00:02" in screen  # elapsed instead of a time remaining
        progress.stream_finished(StreamSummary("files", "roster", "person", read=1234))
        assert "1,234/1,234 rows" in _screen(progress) and "100%" in _screen(progress)
    finally:
        progress.close()


def test_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    clock = Clock()
    progress = TerminalProgress(tty=False, interval=5.0, clock=clock)
    progress.stream_started("hr_db", "staff")
    progress.stream_estimate("hr_db", "staff", lambda: 100)
    for _ in range(5):
        clock.now += 2.0
        progress.rows_read("hr_db", "staff", 10)
    progress.close()
    err = capsys.readouterr().err.splitlines()
    assert err == ["[hr_db/staff] started", "[hr_db/staff] about 100 rows to read",
                   "[hr_db/staff] 30 / 100 rows (30%), 5 rows/s, ETA 0:00:14"]


@pytest.mark.parametrize("tty", [True, False])
def test_disabled_shows_nothing_and_asks_no_estimate(
        tty: bool, capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[bool] = []

    def estimate() -> int:
        asked.append(True)
        return 5

    progress = TerminalProgress(enabled=False, tty=tty)
    progress.stream_started("hr_db", "staff")
    progress.stream_estimate("hr_db", "staff", estimate)
    progress.rows_read("hr_db", "staff", 5)
    progress.stream_finished(StreamSummary("hr_db", "staff", "person", read=5))
    progress.close()
    assert not asked
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""

"""The progress logic (hrss_hub.run.progress): rate, share, time left, the plain lines and
how often they come, all against a fake clock (pure logic, no timing)."""

from __future__ import annotations

from hrss_hub.run.context import NoProgress
from hrss_hub.run.progress import ProgressLines, StreamProgress, format_duration, progress_line
from hrss_hub.run.summary import StreamSummary


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_share_and_time_left() -> None:
    p = StreamProgress("hr/staff", started=10.0, total=1000)
    assert p.rate(10.0) is None and p.remaining(10.0) is None and p.fraction() == 0
    p.done = 250
    assert p.rate(15.0) == 50.0 and p.fraction() == 0.25 and p.remaining(15.0) == 15.0
    p.done = 1200  # an estimate may fall short: never past 100 %, never negative time
    assert p.fraction() == 1.0 and p.remaining(20.0) == 0.0
    assert StreamProgress("x", 0.0, total=0).fraction() == 1.0
    unknown = StreamProgress("x", 0.0, done=10)
    assert unknown.fraction() is None and unknown.remaining(5.0) is None
    assert unknown.rate(5.0) == 2.0


def test_lines_with_and_without_a_total() -> None:
    p = StreamProgress("hr/staff", started=0.0, total=50_000, done=12_000)
    assert progress_line(p, 4.0) == ("[hr/staff] 12,000 / 50,000 rows (24%), 3,000 rows/s, "
                                     "ETA 0:00:13")
    p.total = None
    assert progress_line(p, 4.0) == "[hr/staff] 12,000 rows, 3,000 rows/s"
    assert format_duration(3725.4) == "1:02:05"


def test_periodic_lines_at_most_every_interval() -> None:
    clock, out = Clock(), []
    lines = ProgressLines(out.append, interval=10.0, clock=clock)
    lines.stream_started("hr", "staff")
    lines.stream_estimate("hr", "staff", lambda: 400)
    for _ in range(8):  # a chunk every 3 s: a line at 12 s and at 24 s, not at each chunk
        clock.now += 3
        lines.rows_read("hr", "staff", 50)
    summary = StreamSummary("hr", "staff", "person", status="succeeded", read=400,
                            published=390, quarantined=10, duration_seconds=24.0)
    lines.stream_finished(summary)
    assert out == [
        "[hr/staff] started",
        "[hr/staff] about 400 rows to read",
        "[hr/staff] 200 / 400 rows (50%), 17 rows/s, ETA 0:00:12",
        "[hr/staff] 400 / 400 rows (100%), 17 rows/s, ETA 0:00:00",
        "[hr/staff] succeeded: read 400, published 390, quarantined 10, filtered 0 (24.0s)",
    ]


def test_an_unknown_estimate_prints_no_total() -> None:
    clock, out = Clock(), []
    lines = ProgressLines(out.append, interval=1.0, clock=clock)
    lines.stream_started("hr", "staff")
    lines.stream_estimate("hr", "staff", lambda: None)
    clock.now += 2
    lines.rows_read("hr", "staff", 30)
    assert out == ["[hr/staff] started", "[hr/staff] 30 rows, 15 rows/s"]


def test_no_progress_never_asks_for_the_estimate() -> None:
    asked: list[bool] = []

    def estimate() -> int:
        asked.append(True)
        return 1

    NoProgress().stream_estimate("hr", "staff", estimate)
    assert not asked

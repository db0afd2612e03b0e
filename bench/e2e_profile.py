"""Where one ``hrss-hub run`` spends its time and memory, by stage.

Runs the CLI in this process under pyinstrument (wall-clock sampling, so time spent in
C — SQLite, Arrow kernels, the Parquet writer — is charged to the Python frame that
called it) while a thread samples the process's RSS together with the stage the main
thread is in. Each stack is charged to its *innermost* frame that names a stage, so an
import done lazily inside the gate counts as ``imports`` and a delivery made inside
publishing counts as ``deliver``.

Stages are recognised by the package path of a frame (``STAGE_RULES``), not by the
pipeline's own function names, so the attribution survives a refactor of ``pipeline.py``.
Rules marked *weak* only apply where no enclosing frame named a stage: the Parquet writer
called by the run loop itself writes the quarantine file (``stage``), but the same
writer inside publishing belongs to ``publish``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

#: (path fragment, function name or "" for any, stage, weak)
STAGE_RULES: tuple[tuple[str, str, str, bool], ...] = (
    ("importlib._bootstrap", "_find_and_load", "imports", False),
    ("hrss_hub/connectors/", "", "extract", False),
    ("hrss_hub/mapping/", "", "map", False),
    ("hrss_hub/quality/gate.py", "_duplicates", "gate: duplicate keys", False),
    ("hrss_hub/quality/gate.py", "", "gate", False),
    ("hrss_hub/quality/rules", "", "gate", False),
    ("hrss_hub/quality/gx.py", "", "gx", False),
    ("great_expectations/", "", "gx", False),
    ("hrss_hub/quality/validate.py", "", "gate: suite counts", False),
    ("hrss_hub/quality/frame.py", "", "gate: suite counts", False),
    ("hrss_hub/quality/checks.py", "", "gate: suite counts", False),
    ("hrss_hub/exchange/staging.py", "", "stage", False),
    ("hrss_hub/exchange/deliver.py", "", "deliver", False),
    ("hrss_hub/exchange/masking.py", "", "deliver", False),
    ("hrss_hub/exchange/", "", "publish", False),
    ("hrss_hub/quality/report.py", "", "report", False),
    ("hrss_hub/quality/results.py", "", "report", False),
    ("hrss_hub/ledger/", "", "ledger", False),
    ("pyarrow/parquet/", "", "stage", True),
    ("hrss_hub/standard/", "", "setup", True),
    ("hrss_hub/config", "", "setup", True),
    ("hrss_hub/cli/", "print_summary", "cli output", True),
)

#: display order; anything unmatched is ``other`` (the run loop, click, the interpreter)
STAGES = ("imports", "setup", "extract", "map", "gate", "gate: duplicate keys",
          "gate: suite counts", "gx", "stage", "ledger", "publish", "deliver", "report",
          "cli output", "other")


def _rule(path: str, function: str) -> tuple[str, bool] | None:
    path = path.replace("\\", "/")
    for fragment, name, stage, weak in STAGE_RULES:
        if fragment in path and (not name or name == function):
            return stage, weak
    return None


def stage_of(stack: list[tuple[str, str]]) -> str:
    """The stage of a stack given outermost first as (file path, function) pairs."""
    strong: str | None = None
    weak: str | None = None
    for path, function in stack:
        hit = _rule(path, function)
        if hit is None:
            continue
        stage, is_weak = hit
        if not is_weak:
            strong = stage
        elif strong is None:
            weak = stage
    return strong or weak or "other"


def attribute(root: Any) -> dict[str, float]:
    """Seconds per stage from a pyinstrument frame tree (self time of each frame charged
    to the stage of its stack)."""
    out: dict[str, float] = defaultdict(float)
    todo: list[tuple[Any, list[tuple[str, str]]]] = [(root, [])]
    while todo:
        frame, above = todo.pop()
        stack = [*above, (frame.file_path or "", frame.function or "")]
        own = frame.time - sum(child.time for child in frame.children)
        if own > 0:
            out[stage_of(stack)] += own
        todo.extend((child, stack) for child in frame.children)
    return dict(out)


@dataclass
class _Sample:
    at: float
    rss: int
    stage: str


class MemorySampler(threading.Thread):
    """Samples RSS and the main thread's stage every ``interval`` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.main = threading.main_thread().ident
        self.samples: list[_Sample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            frame = sys._current_frames().get(self.main or 0)
            self.samples.append(_Sample(time.perf_counter(), self.process.memory_info().rss,
                                        stage_of(_stack(frame))))

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._halt.set()
        self.join()

    def by_stage(self) -> dict[str, dict[str, float]]:
        """Per stage: peak RSS seen in it and the RSS it added (MiB, first → last sample
        of each stretch in that stage, summed)."""
        out: dict[str, dict[str, float]] = defaultdict(lambda: {"peak_mib": 0.0,
                                                               "grew_mib": 0.0})
        previous: _Sample | None = None
        for s in self.samples:
            entry = out[s.stage]
            entry["peak_mib"] = max(entry["peak_mib"], s.rss / 2**20)
            if previous is not None and previous.stage == s.stage:
                entry["grew_mib"] += (s.rss - previous.rss) / 2**20
            previous = s
        return {k: {m: round(v, 1) for m, v in out[k].items()} for k in STAGES if k in out}

    def timeline(self, step: float = 0.1) -> list[tuple[float, float, str]]:
        """(seconds since the first sample, RSS MiB, stage), at most one per ``step``."""
        out: list[tuple[float, float, str]] = []
        start = self.samples[0].at if self.samples else 0.0
        for s in self.samples:
            if not out or s.at - start - out[-1][0] >= step:
                out.append((round(s.at - start, 2), round(s.rss / 2**20, 1), s.stage))
        return out


def _stack(frame: FrameType | None) -> list[tuple[str, str]]:
    stack = []
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    return stack[::-1]


def profile_run(hub_yaml: Path, out_dir: Path) -> dict[str, Any]:
    """Run ``hrss-hub run`` in this process under the profiler; write the pyinstrument
    HTML and text renderings to ``out_dir``; return seconds and memory per stage."""
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer

    sampler = MemorySampler()
    profiler = Profiler(interval=0.001)
    sampler.start()
    t0 = time.perf_counter()
    profiler.start()
    try:
        from hrss_hub.cli import main  # the CLI's own imports are part of the run

        code = main(["run", "--config", str(hub_yaml), "--json", "--quiet"])
    except SystemExit as exc:
        code = exc.code
    session = profiler.stop()
    wall = time.perf_counter() - t0
    sampler.stop()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile.html").write_text(HTMLRenderer().render(session), encoding="utf-8")
    (out_dir / "profile.txt").write_text(
        ConsoleRenderer(unicode=True, color=False, show_all=False).render(session),
        encoding="utf-8")
    root = session.root_frame()
    seconds = attribute(root) if root is not None else {}
    result = {
        "exit_code": code,
        "wall_seconds": round(wall, 3),
        "seconds": {k: round(seconds[k], 3) for k in STAGES if k in seconds},
        "memory": sampler.by_stage(),
        "peak_rss_mib": round(max((s.rss for s in sampler.samples), default=0) / 2**20, 1),
        "cpu_seconds": round(session.cpu_time, 3),
        "timeline": sampler.timeline(),
        "profile_html": str(out_dir / "profile.html"),
        "profile_text": str(out_dir / "profile.txt"),
    }
    (out_dir / "stages.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result

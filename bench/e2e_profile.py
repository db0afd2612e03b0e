"""Where one ``hrss-hub run`` spends its time, CPU and memory, by stage.

Runs the CLI in this process while a thread samples, every 10 ms, the stage the main
thread is in (its Python stack), the process's CPU time (all threads: Arrow's pool
included), the main thread's own CPU time and the RSS. Each interval is charged to the
stage of the sample ending it. The sampler costs ~1% (a stack walk per 10 ms); CPU
seconds per stage hold on a busy machine, where wall seconds stretch. Process CPU beyond
the main thread's is work Arrow ran on other cores.

A stack is charged to its *innermost* frame that names a stage, so an import done lazily
inside the gate counts as ``imports`` and a delivery made inside publishing counts as
``deliver``. Stages are recognised by the package path of a frame (``STAGE_RULES``), not by
the pipeline's own function names, so the attribution survives a refactor of the run loop.
Rules marked *weak* only apply where no enclosing frame named a stage: the Parquet writer
called by the run loop itself writes the quarantine file (``stage``), but the same writer
inside publishing belongs to ``publish``.

With ``call_tree=True`` the same run is also recorded by pyinstrument (``profile.html``,
``profile.txt``: who called what). That adds ~30% CPU to Python-heavy stages (imports, GX),
so the stage figures of such a run are marked as distorted.
"""

from __future__ import annotations

import json
import resource
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
    ("hrss_hub/quality/gate.py", "_duplicates", "gate: duplicate keys", False),  # until 2026-12
    ("hrss_hub/quality/rules/builtin/duplicate_key.py", "", "gate: duplicate keys", False),
    ("hrss_hub/quality/gate.py", "", "gate", False),
    ("hrss_hub/quality/rules", "", "gate", False),
    ("hrss_hub/quality/gx.py", "", "gx", False),
    ("great_expectations/", "", "gx", False),
    ("hrss_hub/quality/validate.py", "wait_gx", "gx", False),  # waiting for the GX thread
    ("hrss_hub/quality/validate.py", "", "gate: suite counts", False),
    ("hrss_hub/quality/frame.py", "", "gate: suite counts", False),
    ("hrss_hub/quality/checks.py", "", "gate: suite counts", False),
    ("hrss_hub/exchange/staging.py", "", "stage", False),
    ("hrss_hub/exchange/deliver.py", "", "deliver", False),
    ("hrss_hub/exchange/masking.py", "", "deliver", False),
    ("hrss_hub/exchange/", "", "publish", False),
    ("hrss_hub/master/linkage.py", "", "master: linkage", False),
    ("splink/", "", "master: linkage", False),
    ("hrss_hub/master/", "", "master: build", False),
    ("hrss_hub/supervision/", "", "supervision", False),
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
          "gate: suite counts", "gx", "stage", "ledger", "publish", "deliver",
          "master: build", "master: linkage", "supervision", "report", "cli output", "other")


def _rule(path: str, function: str) -> tuple[str, bool] | None:
    path = path.replace("\\", "/")
    function = function.rsplit(".", 1)[-1]  # py-spy reports qualified names (RowGate.x)
    for fragment, name, stage, weak in STAGE_RULES:
        if fragment in path and (not name or name == function):
            return stage, weak
    return None


def stage_of(stack: list[tuple[str, str]]) -> str:
    """The stage of a stack given outermost first as (file path, function) pairs.

    Imports are split by the package the outermost import loads (``imports:
    great_expectations`` vs ``imports: hrss_hub``, which pulls in pyarrow and SQLAlchemy)."""
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
    if strong == "imports":
        return f"imports: {_imported_package(stack)}"
    return strong or weak or "other"


def _imported_package(stack: list[tuple[str, str]]) -> str:
    """The top-level package of the module the outermost import in ``stack`` executes."""
    loading = False
    for path, function in stack:
        if function == "_find_and_load":
            loading = True
        elif loading and function == "<module>":
            path = path.replace("\\", "/")
            if "site-packages/" in path:
                return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
            if "/hrss_hub/" in path:
                return "hrss_hub"
            return "stdlib"
    return "?"


def stage_order(name: str) -> tuple[int, str]:
    """Sort key of a stage name: ``STAGES`` order, sub-stages (``imports: x``) by name."""
    base = name.split(":", 1)[0] if name.startswith("imports") else name
    return (STAGES.index(base) if base in STAGES else len(STAGES), name)


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
    cpu: float  # process CPU seconds (user + system, every thread)
    main_cpu: float  # the main thread's CPU seconds
    rss: int
    stage: str


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class StageSampler(threading.Thread):
    """Samples the main thread's stage, CPU times and RSS every ``interval`` seconds."""

    def __init__(self, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.main = threading.main_thread().ident or 0
        self.main_clock = time.pthread_getcpuclockid(self.main)
        self.samples: list[_Sample] = []
        self._halt = threading.Event()

    def _sample(self) -> _Sample:
        frame = sys._current_frames().get(self.main)
        return _Sample(time.perf_counter(), _process_cpu(),
                       time.clock_gettime(self.main_clock), self.process.memory_info().rss,
                       stage_of(_stack(frame)))

    def run(self) -> None:
        self.samples.append(self._sample())
        while not self._halt.wait(self.interval):
            self.samples.append(self._sample())

    def stop(self) -> None:
        """Take a last sample, stop sampling and wait for the thread."""
        self._halt.set()
        self.join()

    def by_stage(self) -> dict[str, dict[str, float]]:
        """Per stage: wall, process CPU and main-thread CPU seconds, the peak RSS seen in
        it and the RSS it added (MiB, summed over the intervals charged to it)."""
        out: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(
            ("seconds", "cpu_seconds", "main_cpu_seconds", "peak_mib", "grew_mib"), 0.0))
        for before, s in zip(self.samples, self.samples[1:], strict=False):
            entry = out[s.stage]
            entry["seconds"] += s.at - before.at
            entry["cpu_seconds"] += s.cpu - before.cpu
            entry["main_cpu_seconds"] += s.main_cpu - before.main_cpu
            entry["grew_mib"] += (s.rss - before.rss) / 2**20
            entry["peak_mib"] = max(entry["peak_mib"], s.rss / 2**20)
        return {k: {m: round(v, 3 if "seconds" in m else 1) for m, v in out[k].items()}
                for k in sorted(out, key=stage_order)}

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


def profile_run(hub_yaml: Path, out_dir: Path, *, call_tree: bool = False) -> dict[str, Any]:
    """Run ``hrss-hub run`` in this process under the stage sampler (and pyinstrument with
    ``call_tree``); write ``stages.json`` (and the call tree) to ``out_dir``; return it."""
    profiler: Any = None
    if call_tree:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
    sampler = StageSampler()
    sampler.start()
    t0, cpu0 = time.perf_counter(), _process_cpu()
    if profiler is not None:
        profiler.start()
    try:
        from hrss_hub.cli import main  # the CLI's own imports are part of the run

        code = main(["run", "--config", str(hub_yaml), "--json", "--quiet"])
    except SystemExit as exc:
        code = exc.code
    session = profiler.stop() if profiler is not None else None
    wall, cpu = time.perf_counter() - t0, _process_cpu() - cpu0
    sampler.stop()
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = sampler.by_stage()
    result: dict[str, Any] = {
        "exit_code": code,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "stages": stages,
        "peak_rss_mib": max((v["peak_mib"] for v in stages.values()), default=0.0),
        "timeline": sampler.timeline(),
        "distorted_by_call_tree": call_tree,
    }
    if session is not None:
        from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer

        (out_dir / "profile.html").write_text(HTMLRenderer().render(session), encoding="utf-8")
        (out_dir / "profile.txt").write_text(
            ConsoleRenderer(unicode=True, color=False, show_all=False).render(session),
            encoding="utf-8")
        root = session.root_frame()
        seconds = attribute(root) if root is not None else {}
        result["call_tree"] = {
            "seconds": {k: round(seconds[k], 3) for k in sorted(seconds, key=stage_order)},
            "html": str(out_dir / "profile.html"), "text": str(out_dir / "profile.txt")}
    (out_dir / "stages.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result

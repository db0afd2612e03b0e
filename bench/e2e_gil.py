"""Which stages of ``hrss-hub run`` hold the GIL: py-spy, sampled twice.

Run 1 samples the main thread's stack whatever it does (``--idle``); run 2 samples only
while a thread holds the GIL (``--gil``). Both are charged to stages with the same rules
as the stage sampler (``e2e_profile.stage_of``). A stage whose GIL share is low
spends its time in C code that released the GIL (SQLite/ADBC reads, Arrow kernels, the
Parquet writer): work another thread could overlap. Shares come from two runs of the
same work, so they are estimates (±5 points).

Usage (a workspace written by ``bench_e2e.py --workdir W``)::

    python bench/e2e_gil.py W/sqlite/workspace/hub.yaml [--rate 200]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from e2e_profile import stage_of, stage_order

STATE_DIRS = (".hrss-hub", "exchange", "outbox", "quarantine", "reports")
_FRAME = re.compile(r"^(?P<fn>.*) \((?P<file>.*?)(?::\d+)?\)$")


def _stacks(raw: Path) -> Counter[str]:
    """Samples per stage from py-spy's raw (collapsed) output, main thread only."""
    rows: list[tuple[str, list[tuple[str, str]], int]] = []
    named: dict[str, str] = {}
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, samples = line.rpartition(" ")
        head, *parts = stack.split(";")
        thread = re.match(r"thread \((\d+)\)", head)
        if thread is None:
            continue
        if ":" in head:
            named[thread.group(1)] = head.split(":", 1)[1].strip()
        frames = [(m.group("file"), m.group("fn")) for m in map(_FRAME.match, parts) if m]
        rows.append((thread.group(1), frames, int(samples)))
    main = [t for t, name in named.items() if name == "MainThread"]
    out: Counter[str] = Counter()
    for tid, frames, count in rows:
        if tid in main:  # no Python frame at all: the interpreter starting or finalizing
            out[stage_of(frames) if frames else "interpreter start/exit"] += count
    return out


def sample(hub_yaml: Path, rate: int, gil: bool, out: Path) -> Counter[str]:
    """One fresh ``hrss-hub run`` under py-spy; samples per stage."""
    for name in STATE_DIRS:
        shutil.rmtree(hub_yaml.parent / name, ignore_errors=True)
    spy = Path(sys.executable).with_name("py-spy")
    hub = Path(sys.executable).with_name("hrss-hub")
    cmd = [str(spy), "record", "--format", "raw", "--rate", str(rate), "--full-filenames",
           "--threads", "-o", str(out), "--gil" if gil else "--idle", "--",
           str(hub), "run", "--config", str(hub_yaml), "--json", "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True, env=os.environ.copy())
    return _stacks(out)


def main() -> int:
    """Print per stage: share of all samples and share of them holding the GIL."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hub_yaml", type=Path)
    parser.add_argument("--rate", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        every = sample(args.hub_yaml, args.rate, False, Path(tmp) / "all.txt")
        held = sample(args.hub_yaml, args.rate, True, Path(tmp) / "gil.txt")
    total = sum(every.values()) or 1
    print(f"{'stage':<22}{'s (main thread)':>16}{'share':>8}{'GIL held':>10}")
    for stage in sorted(every, key=stage_order):
        if every.get(stage):
            seconds = every[stage] / args.rate
            print(f"{stage:<22}{seconds:>14.2f} s{every[stage] / total:>8.0%}"
                  f"{min(held.get(stage, 0) / every[stage], 1):>10.0%}")
    print(f"{'all':<22}{total / args.rate:>14.2f} s{1:>8.0%}"
          f"{sum(held.values()) / total:>10.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

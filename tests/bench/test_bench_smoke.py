"""The master, publish and parallel benches at smoke size, so they cannot rot between the
runs that quote their figures.

Each bench asserts its own results before it prints a figure (the master bench: the
planted cases found and linkage scored against its truth; the publish bench: row counts,
unique keys, the changed rows present, every version verifying; the parallel bench: the
same published content in every mode). Here each runs as a user runs it, in a child
process, and its report is read back. Figures at this size say nothing about the targets.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / args[0]), *args[1:]],
                          capture_output=True, text=True, cwd=cwd, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_bench_master_finds_its_planted_cases_and_scores_linkage(tmp_path: Path) -> None:
    out = _bench("bench_master.py", "--persons", "3000", "--keep", str(tmp_path / "m"),
                 cwd=tmp_path)
    report = json.loads(out[:out.rindex("}") + 1])
    assert report["persons"] == 3000
    assert report["mistyped"] > 0 and set(report["mistyped_kinds"]) == {
        "different", "invalid", "missing"}
    assert report["true_pairs"] > 0
    assert report["precision"] >= 0.95 and report["recall"] >= 0.95
    assert report["found"]["benefit_after_death"] == report["planted_after_death"]
    assert set(report["peak_rss_mib_by_step"]) >= {"master_build", "publish", "linkage",
                                                   "checks"}
    assert "targets (peak RSS" in out


def test_bench_publish_reports_every_publish_and_its_targets(tmp_path: Path) -> None:
    out = _bench("bench_publish.py", "--sizes", "20000,40000", cwd=tmp_path)
    for size in ("20,000", "40,000"):
        for publish in ("contribution initial", "contribution +10k new", "person initial",
                        "person 10k updates"):
            assert re.search(rf"{size}\s+{re.escape(publish)}\s+[\d.]+\s+[\d,]+\s+\d+", out), (
                size, publish, out)
    assert "targets at 40,000 rows:" in out
    assert out.count("(±25%:") == 4


def test_bench_parallel_publishes_the_same_content_in_every_mode(tmp_path: Path) -> None:
    out = _bench("bench_parallel.py", "--rows", "2000", "--rounds", "1", "--skip-demo",
                 cwd=tmp_path)
    assert "published content: identical in every mode" in out
    assert re.search(r"parallel 1 [\d.]+ s .*threads 2 [\d.]+ s .*processes 2 [\d.]+ s", out)

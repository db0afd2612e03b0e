"""Start-up cost of the ``hrss-hub`` command line (issue #13: ``hrss-hub --help`` ≤ 0.5 s).

Runs each command line ``--runs`` times as a fresh process (like hyperfine: one warm-up
run first, then the median, min and max wall time), and lists the imports that cost the
most (``python -X importtime``, cumulative, self-inclusive) for ``hrss-hub --help`` and
for the slowest command's ``--help``. A command's ``--help`` imports that command's module,
so its time shows what the module imports at its top.

Usage::

    python bench/bench_cli_start.py [--runs 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HUB = Path(sys.executable).with_name("hrss-hub")
TARGET_SECONDS = 0.5  # issue #13 acceptance for ``hrss-hub --help``
HEAVY = ("pyarrow", "sqlalchemy", "great_expectations", "pandas", "numpy", "rich", "yaml")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], runs: int) -> dict[str, float]:
    """Median/min/max wall seconds and median CPU seconds (user + system: what a busy
    machine does not stretch) of ``hrss-hub ARGS`` over ``runs`` fresh processes."""
    cmd = [str(HUB), *args]
    subprocess.run(cmd, capture_output=True, check=False)  # warm the page cache
    times, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - c0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr!r}")
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3),
            "max": round(max(times), 3), "cpu": round(statistics.median(cpus), 3)}


def top_imports(args: list[str], n: int = 12) -> tuple[list[tuple[str, float]], list[str]]:
    """The ``n`` imports (top three levels) with the largest cumulative time, and which
    heavy libraries were imported at all, for ``hrss-hub ARGS``."""
    code = ("import sys; from hrss_hub.cli import main; sys.argv = ['hrss-hub', *sys.argv[1:]]; "
            "main(sys.argv[1:])")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args],
                          capture_output=True, text=True, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(3)) <= 4:  # the top three levels of the import tree
            rows.append((m.group(4), int(m.group(2)) / 1e6))
    names = {r[0].split(".")[0] for r in rows}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if m:
            names.add(m.group(1).split(".")[0])
    return sorted(rows, key=lambda r: -r[1])[:n], sorted(h for h in HEAVY if h in names)


def commands() -> list[str]:
    """The registered top-level commands (from the CLI's own table)."""
    from hrss_hub.cli import COMMANDS

    return sorted(COMMANDS)


def main() -> int:
    """Print the start-up table; exit 1 when ``hrss-hub --help`` misses its target."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", dest="json_out", type=Path, default=None)
    args = parser.parse_args()
    lines = [["--help"], ["--version"], *[[c, "--help"] for c in commands()]]
    results = {" ".join(a): timed(a, args.runs) for a in lines}
    print(f"{'command line':<34}{'median':>9}{'min':>8}{'max':>8}{'CPU':>8}   "
          f"({args.runs} runs each; load average {os.getloadavg()[0]:.1f})")
    for name, r in results.items():
        print(f"hrss-hub {name:<25}{r['median']:>8.3f}s{r['min']:>7.3f}s{r['max']:>7.3f}s"
              f"{r['cpu']:>7.3f}s")
    slowest = max((k for k in results if k not in ("--help", "--version")),
                  key=lambda k: results[k]["median"])
    report: dict[str, object] = {"runs": args.runs, "times": results}
    for name in ("--help", slowest):
        rows, heavy = top_imports(name.split())
        report[f"imports {name}"] = {"top": rows, "heavy": heavy}
        print(f"\nlargest imports of `hrss-hub {name}` (cumulative s); heavy libraries loaded: "
              f"{', '.join(heavy) or 'none'}")
        for mod, seconds in rows:
            print(f"  {seconds:7.3f}  {mod}")
    met = results["--help"]["median"] <= TARGET_SECONDS
    print(f"\n`hrss-hub --help` median {results['--help']['median']:.3f} s: target "
          f"≤ {TARGET_SECONDS} s {'met' if met else 'NOT met'}")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

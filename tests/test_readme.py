"""The README's commands are the ones CI runs, and its tour runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = ci.strip().splitlines()[-1]
    assert command in README, f"README lacks the CI test command: {command}"
    assert "hrss-hub demo --dir demo" in README


def tour(section: str = "## A short tour") -> list[tuple[str, int]]:
    """The ``$ …`` lines of the first console block after ``section``, with exit codes."""
    block = README.split(section, 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    steps = []
    for line in block.splitlines():
        command, _, comment = line.removeprefix("$ ").partition("  # ")
        match = re.search(r"exits (\d+)", comment)
        steps.append((command.strip(), int(match.group(1)) if match else 0))
    return steps


@pytest.mark.slow
def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HRSS_HUB_LEDGER_URL", None)
    steps = tour()
    assert len(steps) >= 15
    auditors = tour("## For auditors")  # on the tour's demo workspace, after it
    assert len(auditors) >= 5
    for command, expected in [*steps, *auditors]:
        result = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=600)
        output = result.stdout + result.stderr
        assert result.returncode == expected, f"{command}\n{output[-2000:]}"
        assert "Traceback" not in output, f"{command}\n{output[-2000:]}"
    assert (tmp_path / "demo" / "catalog.html").exists()
    assert (tmp_path / "dictionary" / "data-dictionary.html").exists()
    assert (tmp_path / "county-hub" / "connectors" / "example_rest.yaml").exists()
    import json

    for document in ("quarantine.json", "runs.json", "catalog.json"):  # --json parses
        json.loads((tmp_path / document).read_text(encoding="utf-8"))
    # the auditors' pages: the report with its masked downloads and sign-off, the catalog
    # with its code lists as data beside it
    report = sorted((tmp_path / "demo" / "reports").glob("*/report.html"))[-1]
    assert list((report.parent / "quarantine").glob("*.xlsx"))
    assert "Sign-off" in report.read_text(encoding="utf-8")
    assert (tmp_path / "audit" / "codelists" / "gender.csv").exists()

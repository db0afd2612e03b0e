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


def tour(section: str | None = None) -> list[tuple[str, int]]:
    """The commands of the README's first console block (of ``## <section>``, if given)."""
    text = README if section is None else README.split(f"\n## {section}\n", 1)[1]
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    steps = []
    for line in block.splitlines():
        command, _, comment = line.removeprefix("$ ").partition("  # ")
        match = re.search(r"exits (\d+)", comment)
        steps.append((command.strip(), int(match.group(1)) if match else 0))
    return steps


def run_steps(steps: list[tuple[str, int]], cwd: Path) -> None:
    """Run README commands in order in ``cwd``; each exits as documented, no traceback."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HRSS_HUB_LEDGER_URL", None)
    for command, expected in steps:
        result = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=600)
        output = result.stdout + result.stderr
        assert result.returncode == expected, f"{command}\n{output[-2000:]}"
        assert "Traceback" not in output, f"{command}\n{output[-2000:]}"


@pytest.mark.slow
def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    steps = tour()
    assert len(steps) >= 15
    run_steps(steps, tmp_path)
    assert (tmp_path / "demo" / "catalog.html").exists()
    assert (tmp_path / "dictionary" / "data-dictionary.html").exists()


@pytest.mark.slow
def test_the_auditors_commands_run_as_written(tmp_path: Path) -> None:
    steps = tour("For auditors")
    assert len(steps) >= 3
    run_steps(steps, tmp_path)
    (report,) = (tmp_path / "audit" / "reports").glob("*/report.html")
    assert list((report.parent / "quarantine").glob("*.xlsx"))
    assert "Sign-off" in report.read_text(encoding="utf-8")
    assert (tmp_path / "audit" / "catalog" / "codelists" / "gender.csv").exists()

"""The README's "For consuming departments" section runs as written.

Its shell lines run in a folder holding a demo world (``serve … &`` in the background on
a free port), its Python blocks with the real client in the recipient's environment, its
verify command against the demo's outbox. (Until the delta workstream's Delta outboxes are
on main, the server is pointed at Delta copies of the demo outboxes: see share_helpers.)
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import requests
from share_helpers import (
    HUB_BIN,
    ROOT,
    client_ok,
    demo_delta_outboxes,
    free_port,
    hub,
)

from hrss_hub.demo.generator import generate_world
from hrss_hub.demo_tour import run_demo
from hrss_hub.exchange.reading import read_version

pytestmark = [pytest.mark.integration, pytest.mark.slow]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section() -> str:
    return README.split("## For consuming departments", 1)[1].split("\n## ", 1)[0]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.S)


def test_the_section_names_what_the_issue_asks_for() -> None:
    text = section()
    for words in ("profile", "delta-sharing", "pandas", 'format("deltaSharing")',
                  "Power BI", "Tableau", "hrss-hub verify", "pseudonym", "join"):
        assert words in text, words
    assert len(blocks("bash")) == 1 and len(blocks("python")) == 2


def test_the_section_runs_as_written(tmp_path: Path) -> None:
    generate_world(tmp_path / "demo", persons=200, seed=5)
    assert run_demo(tmp_path / "demo", 200, 5, quiet=True) == 0
    env = {**os.environ, "PATH": f"{HUB_BIN.parent}{os.pathsep}{os.environ['PATH']}",
           "HRSS_HUB_OUTBOX_URI": str(demo_delta_outboxes(tmp_path / "demo"))}
    port = str(free_port())
    background: list[subprocess.Popen[bytes]] = []
    try:
        for line in blocks("bash")[0].strip().splitlines():
            command = line.replace("8765", port)
            if command.endswith("&"):
                background.append(subprocess.Popen(shlex.split(command[:-1]), cwd=tmp_path,
                                                   env=env, stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
                _wait_for(f"http://127.0.0.1:{port}/healthz")
                continue
            result = subprocess.run(command, shell=True, cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
            assert "Traceback" not in result.stderr
        assert (tmp_path / "medical-insurance.share").exists()
        first, join = blocks("python")
        out = client_ok(first, cwd=tmp_path)
        assert "persons;" in out and "'insert'" in out
        # the key holder's copy of the key, and the bureau's own records: in-scope
        # persons of the register plus two it does not know
        key = tmp_path / "demo" / ".hrss-hub" / "pseudonym-keys" / "medical-insurance.key"
        (tmp_path / "medical-insurance.key").write_text(key.read_text())
        person = read_version(tmp_path / "demo" / "exchange", "person")
        known = sorted(i for i, d in zip(person["citizen_id"].to_pylist(),
                                         person["address_division"].to_pylist(), strict=True)
                       if i and d and d.startswith("510107"))[:25]
        (tmp_path / "insured.csv").write_text(
            "id_number,insured_since\n" + "".join(f"{i},2020-01-01\n" for i in known)
            + "110105194912310021,2021-01-01\n51010719800101001X,2021-01-01\n")
        out = client_ok(join, cwd=tmp_path)
        assert f"{len(known)} of {len(known) + 2} insured persons" in out
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=20)
    # the verify command of the section, with the key exported as it says
    exported = re.search(r"`(hrss-hub publish public-key [^`]+)`", section())
    verify = re.search(r"`(hrss-hub verify [^`]+)`", section())
    assert exported and verify
    for command in (exported.group(1), verify.group(1)):
        result = subprocess.run(command, shell=True, cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in hub("share", "list", "--config", str(tmp_path / "demo" /
                                                                   "hub.yaml")).stderr


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")

"""Two ``hrss-hub run`` on one workspace at the same time: exactly one proceeds, the other
fails fast naming it (or waits with --wait), and the result equals a serial run."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from run_world import ledger_facts, published, quarantined, start_run

from hrss_hub.config import load_config
from hrss_hub.ledger import Ledger

pytestmark = pytest.mark.slow


def wait_for_lock(ws: Path, timeout: float = 60) -> str:
    """The run id holding the workspace once the first run has its locks."""
    cfg = load_config(ws / "hub.yaml")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (ws / ".hrss-hub").exists():
            with Ledger.open(cfg.ledger_url) as led:
                held = {lk.holder for lk in led.run_locks()}
            if held:
                return held.pop()
        time.sleep(0.2)
    raise AssertionError("the first run never took its lock")


def test_two_concurrent_runs_exactly_one_proceeds(world: Path, tmp_path: Path) -> None:
    serial = tmp_path / "serial"
    shutil.copytree(world, serial)
    alone = start_run(serial)
    assert alone.wait(timeout=180) == 0, alone.stderr.read() if alone.stderr else ""

    # the first run pauses after its first stream's extraction, holding the lock
    first = start_run(world, HRSS_HUB_TEST_CRASHPOINT="extract.done~4")
    holder = wait_for_lock(world)
    second = start_run(world)
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=180)
    assert first.returncode == 0, err1
    assert second.returncode == 2, (out2, err2)
    assert "another run is in progress" in err2 and holder in err2
    assert "Traceback" not in err2
    assert json.loads(out1)["run_id"] == holder

    assert published(world) == published(serial)
    assert quarantined(world) == quarantined(serial)
    facts, serial_facts = ledger_facts(world), ledger_facts(serial)
    assert facts["running"] == [] and facts["locks"] == []
    assert facts["statuses"] == serial_facts["statuses"]  # the refused run left no row
    assert facts["duplicate_deliveries"] == []
    assert facts["delivered_rows"] == serial_facts["delivered_rows"]
    assert facts["audit_problems"] == []


def test_wait_queues_behind_the_running_run(world: Path) -> None:
    first = start_run(world, HRSS_HUB_TEST_CRASHPOINT="extract.done~3")
    wait_for_lock(world)
    second = start_run(world, "--wait", "--wait-timeout", "120")
    out1, err1 = first.communicate(timeout=180)
    out2, err2 = second.communicate(timeout=180)
    assert (first.returncode, second.returncode) == (0, 0), (err1, err2)
    one, two = json.loads(out1), json.loads(out2)
    assert two["started_at"] >= one["started_at"]
    # the queued run found everything already done: nothing read twice
    assert sum(s["read"] for sys_ in two["systems"] for s in sys_["streams"]) == 0
    assert ledger_facts(world)["running"] == []

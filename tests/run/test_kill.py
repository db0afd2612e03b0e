"""SIGKILL a run at named points across extract, staging, quarantine write, ledger commit
and publish; the next run finds the killed one, closes it as failed (interrupted), removes
its leftovers and ends with exactly the content of a clean run: 0 duplicated rows,
0 missing rows, quarantine not doubled, no run left ``running``."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from run_world import ledger_facts, published, quarantined, start_run

from hrss_hub.config import load_config
from hrss_hub.ledger import Ledger
from hrss_hub.pipeline import run
from hrss_hub.run.crashpoints import POINTS

pytestmark = pytest.mark.slow

#: (point, nth time it is reached); spread over the world's 6 streams and 5 entities
KILLS = [
    "extract.started", "extract.chunk", "extract.chunk@3", "extract.done", "extract.done@4",
    "stage.written", "stage.written@3",
    "quarantine.tmp_written", "quarantine.tmp_written@3", "quarantine.renamed",
    "quarantine.renamed@5",
    "ledger.before_commit", "ledger.before_commit@4", "ledger.committed",
    "ledger.committed@6", "ledger.batch_recorded@2",
    "publish.started", "publish.entity", "publish.entity@3", "publish.delivered",
    "publish.delivered@4", "publish.done", "run.before_finish", "run.finished",
]


@pytest.fixture(scope="module")
def clean(world_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one uninterrupted run of the world leaves."""
    ws = tmp_path_factory.mktemp("clean") / "w"
    shutil.copytree(world_template, ws)
    summary = run(load_config(ws / "hub.yaml"))
    assert not summary.failed, summary.to_dict()
    return {"published": published(ws), "quarantined": quarantined(ws),
            "facts": ledger_facts(ws)}


def test_every_kill_point_is_a_known_point() -> None:
    assert {k.partition("@")[0] for k in KILLS} == set(POINTS)
    assert len(KILLS) >= 20


def leftovers(ws: Path) -> list[str]:
    found = list(ws.rglob("*.tmp"))
    staging = ws / "exchange" / ".staging"
    found += list(staging.rglob("*.parquet")) if staging.exists() else []
    return sorted(str(p.relative_to(ws)) for p in found)


@pytest.mark.parametrize("point", KILLS)
def test_a_killed_run_is_redone_exactly_once(point: str, world: Path,
                                             clean: dict[str, Any]) -> None:
    killed = start_run(world, HRSS_HUB_TEST_CRASHPOINT=point)
    _out, err = killed.communicate(timeout=180)
    assert killed.returncode == -signal.SIGKILL, f"{point} was never reached: {err[-2000:]}"

    rerun = run(load_config(world / "hub.yaml"))
    assert not rerun.failed, rerun.to_dict()

    assert published(world) == clean["published"], point
    assert quarantined(world) == clean["quarantined"], point
    facts = ledger_facts(world)
    assert facts["running"] == [] and facts["locks"] == []
    assert facts["duplicate_deliveries"] == []
    assert facts["delivered_rows"] == clean["facts"]["delivered_rows"]
    assert facts["audit_problems"] == []
    assert leftovers(world) == []
    with Ledger.open(load_config(world / "hub.yaml").ledger_url) as led:
        runs = led.recent_runs(10)
    first = runs[-1]
    if point != "run.finished":  # killed after its own close: it did finish
        assert first.status == "failed" and str(first.error).startswith("interrupted")

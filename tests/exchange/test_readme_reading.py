"""The README's "Reading the exchange" examples run as written against a published
exchange and outbox: polars, pandas/pyarrow via deltalake, duckdb, and the hub's API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from exchange_helpers import persons, stage

from hrss_hub.config import HubConfig
from hrss_hub.exchange.versions import publish_pending

ROOT = Path(__file__).resolve().parents[2]


def reading_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reading the exchange", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) >= 3
    return blocks


def test_reading_the_exchange_examples_run(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)
    demo = tmp_path / "demo"
    (demo / "sharing").mkdir(parents=True)
    (demo / "sharing" / "medical-insurance.yaml").write_text(yaml.safe_dump({
        "recipient": {"id": "medical-insurance", "name": "医保局"}, "purpose": "核验",
        "legal_basis": "社会保险法", "valid_from": "2026-01-01", "valid_to": "2099-01-01",
        "datasets": {"person": {"columns": {"citizen_id": "pseudonym", "gender": "keep",
                                            "address_division": "keep"}}}},
        allow_unicode=True), encoding="utf-8")
    cfg = HubConfig(root=demo, hub_id="wuhou", division="510107")
    assert cfg.exchange_root is not None
    stage(cfg.exchange_root, persons("510107", range(30), updated=0))
    stage(cfg.exchange_root, persons("510104", range(20), updated=0), tag="b")
    publish_pending(cfg, None, None)
    stage(cfg.exchange_root, persons("510107", range(25, 35), run_id="r2", updated=3),
          run_id="r2")
    publish_pending(cfg, None, None)
    for block in reading_blocks():
        result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{block}\n{result.stderr[-3000:]}"
    out = subprocess.run([sys.executable, "-c", reading_blocks()[0]], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120).stdout
    assert "2 divisions" in out and "['address_division']" in out

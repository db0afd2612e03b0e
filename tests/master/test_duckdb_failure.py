"""A DuckDB failure in the steps after the streams (master build, linkage, supervision)
fails the run with a clear error and records it; it used to escape as a traceback and
leave the run ``running`` in the ledger (10M rows, out of memory in the linkage input)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml


def test_duckdb_out_of_memory_fails_the_run_with_its_reason_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hrss_hub.config import load_config
    from hrss_hub.demo.generator import TOKEN_ENV, URL_ENV, demo_token, generate_world
    from hrss_hub.demo.server import start_server
    from hrss_hub.ledger import Ledger
    from hrss_hub.pipeline import run

    ws = tmp_path / "ws"
    generate_world(ws, persons=300, seed=5)
    hub = ws / "hub.yaml"
    doc = yaml.safe_load(hub.read_text(encoding="utf-8"))
    doc["duckdb"] = {**(doc.get("duckdb") or {}), "memory_limit": "1MB", "threads": 1}
    hub.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    server = start_server(ws, port=0, token=demo_token(ws))
    try:
        monkeypatch.setenv(TOKEN_ENV, demo_token(ws))
        monkeypatch.setenv(URL_ENV, server.url)
        cfg = load_config(hub)
        summary = run(cfg)
    finally:
        server.stop()

    assert summary.status == "failed"
    error = summary.publish_error or ""
    assert "failed in DuckDB" in error and "memory_limit=1MB" in error, error
    assert "raise duckdb.memory_limit" in error
    assert not re.search(r"\d{17}[\dXx]", error)  # no citizen ID, whatever DuckDB said
    with Ledger.open(cfg.ledger_url) as ledger:
        recorded = ledger.get_run(summary.run_id)
        assert recorded is not None and recorded.status == "failed"
        assert "failed in DuckDB" in (recorded.error or "")
        assert ledger.run_locks() == []

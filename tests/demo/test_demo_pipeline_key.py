"""End to end: the hub's pipeline over the demo world reproduces the answer key exactly,
for the first run and for an incremental run after ``append_world``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hrss_hub.demo.generator import append_world, demo_token, generate_world
from hrss_hub.demo.server import start_server

pytestmark = pytest.mark.slow


def _as_key(summary: Any) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for system in summary.systems:
        assert system.error is None, system.error
        for s in system.streams:
            out.setdefault(s.system, {})[s.stream] = {
                "entity": s.entity, "read": s.read, "published": s.published,
                "quarantined_rows": s.quarantined, "quarantined": dict(s.quarantined_by_rule),
                "filtered": s.filtered}
    return out


def _normalize(key: dict[str, Any]) -> dict[str, Any]:
    return {sys: {st: {**v, "quarantined": {r: n for r, n in v["quarantined"].items() if n}}
                  for st, v in streams.items()} for sys, streams in key.items()}


def _current(root: Path, dataset: str) -> Any:
    """The current version of a published dataset (a Delta table) as an Arrow dataset."""
    from deltalake import DeltaTable

    return DeltaTable(str(root / "exchange" / dataset)).to_pyarrow_dataset()


def test_pipeline_matches_answer_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = pytest.importorskip("hrss_hub.pipeline")
    from hrss_hub.config import load_config

    root = tmp_path / "demo"
    key = generate_world(root, persons=600, seed=5)
    monkeypatch.setenv("HRSS_DEMO_API_TOKEN", demo_token(root))
    monkeypatch.delenv("HRSS_HUB_LEDGER_URL", raising=False)
    with start_server(root) as srv:
        monkeypatch.setenv("HRSS_DEMO_API_URL", srv.url)
        cfg = load_config(root / "hub.yaml")
        first = pipeline.run(cfg)
        assert _normalize(_as_key(first)) == _normalize(key["systems"])

        duckdb = pytest.importorskip("duckdb")
        con = duckdb.connect()
        con.register("person", _current(root, "person"))
        con.register("employer", _current(root, "employer"))
        persons = con.sql("SELECT count(DISTINCT citizen_id) FROM person").fetchall()[0]
        employers = con.sql("SELECT count(DISTINCT uscc) FROM employer").fetchall()[0]
        assert (persons[0], employers[0]) == (key["distinct"]["persons"],
                                              key["distinct"]["employers"])

        added = append_world(root, persons=120)
        second = pipeline.run(cfg)
        assert _normalize(_as_key(second)) == _normalize(added["systems"])
        assert json.loads((root / "answer_key_append_1.json").read_text()) == added

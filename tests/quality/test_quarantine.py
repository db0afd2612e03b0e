"""hrss-hub quarantine list|release|reject: decisions in the ledger with who and why."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hrss_hub.cli import cli
from hrss_hub.config import load_config
from hrss_hub.demo_tour import run_demo
from hrss_hub.ledger import Ledger
from hrss_hub.quality.reprocess import released_records
from hrss_hub.standard.model import load_standard


def test_release_and_reject_are_recorded(tmp_path: Path) -> None:
    ws = tmp_path / "world"
    assert run_demo(ws, 120, 3, quiet=True) == 0
    cfg_arg = ["--config", str(ws / "hub.yaml")]
    runner = CliRunner()
    listed = runner.invoke(cli, ["quarantine", "list", "--json", *cfg_arg])
    assert listed.exit_code == 0, listed.output
    rows = [r for r in json.loads(listed.output) if r["system"] == "si_core"]
    assert rows and all(r["status"] == "open" and r["location"] for r in rows)
    person = next(r for r in rows if r["entity"] == "person")
    other = next(r for r in rows if r["row_key"] != person["row_key"])
    rel = runner.invoke(cli, ["quarantine", "release", person["row_key"], "--system", "si_core",
                              "--by", "zhang.wei", "--reason", "已核实", *cfg_arg])
    assert rel.exit_code == 0, rel.output
    rej = runner.invoke(cli, ["quarantine", "reject", other["row_key"], "--system", "si_core",
                              "--by", "li.na", "--reason", "重复申报", *cfg_arg])
    assert rej.exit_code == 0, rej.output
    no_reason = runner.invoke(cli, ["quarantine", "reject", other["row_key"], "--system",
                                    "si_core", "--by", "li.na", *cfg_arg])
    assert no_reason.exit_code != 0
    after = {r["row_key"]: r["status"] for r in json.loads(runner.invoke(
        cli, ["quarantine", "list", "--json", *cfg_arg]).output) if r["system"] == "si_core"}
    assert after[person["row_key"]] == "released" and after[other["row_key"]] == "rejected"
    cfg = load_config(ws / "hub.yaml")
    with Ledger.open(cfg.ledger_url) as ledger:
        assert ledger.verify_audit() == []
        entity = load_standard().entity("person")
        table = released_records(cfg, ledger, "si_core", person["stream"], entity)
    assert table is not None and table.num_rows == 1
    assert table.schema.names == list(entity.field_names)

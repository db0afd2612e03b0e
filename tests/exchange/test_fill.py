"""Delivered columns that no connector fills: ``sharing check`` warns, deliveries report
fill rates (#15.5: ``employment_status`` and ``retired`` went out 100% null unnoticed)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from exchange_helpers import persons, stage

from hrss_hub.cli import cli
from hrss_hub.config import HubConfig
from hrss_hub.exchange.versions import publish_pending
from hrss_hub.ledger import Ledger

AGREEMENT = {
    "recipient": {"id": "mib", "name": "医保局", "level": "district"},
    "purpose": "参保核验", "legal_basis": "PIPL art. 13(3)",
    "valid_from": "2026-01-01", "valid_to": "2099-12-31",
    "datasets": {
        "person": {"columns": {"citizen_id": "pseudonym", "name_raw": "partial",
                               "gender": "keep", "ethnicity": "keep", "phone": "keep",
                               "source_system": "keep"}},
        # no connector of this workspace produces employments: not judged
        "employment": {"columns": {"citizen_id": "pseudonym", "employment_status": "keep"}},
    },
}
CONNECTOR = {
    "system": "si_core", "kind": "sql", "connection": {"url": "sqlite:///src.db"},
    "streams": [{"name": "AC01", "table": "AC01", "primary_key": ["AAC001"], "mapping": {
        "entity": "person", "source_key": ["AAC001"],
        "fields": {"citizen_id": "AAC002", "id_type": {"const": "01"},
                   "name": {"from": "AAC003", "normalize": "name"}, "gender": "AAC004",
                   "birth_date": "AAC006"}}}],
}


def _workspace(root: Path, agreement: dict[str, object]) -> Path:
    for folder in ("sharing", "connectors"):
        (root / folder).mkdir()
    (root / "hub.yaml").write_text("hub_id: wuhou\nlevel: district\ndivision: '510107'\n",
                                   encoding="utf-8")
    (root / "sharing" / "mib.yaml").write_text(yaml.safe_dump(agreement, allow_unicode=True),
                                               encoding="utf-8")
    (root / "connectors" / "si_core.yaml").write_text(
        yaml.safe_dump(CONNECTOR, allow_unicode=True), encoding="utf-8")
    return root


def test_sharing_check_warns_of_columns_no_connector_fills(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, AGREEMENT)
    result = CliRunner().invoke(cli, ["sharing", "check", "--config", str(ws / "hub.yaml")])
    assert result.exit_code == 0, result.output  # a warning, not a problem
    warned = [line for line in result.output.splitlines() if "receives it empty" in line]
    assert len(warned) == 2, result.output
    assert "datasets.person.columns.ethnicity: no connector maps person.ethnicity" in warned[0]
    assert "person.phone" in warned[1]
    # name_raw is kept automatically from name's source column; lineage is always filled;
    # employment has no local connector (its rows would come from other hubs)
    assert "name_raw" not in result.output and "employment_status" not in result.output
    assert "0 problem(s), 2 warning(s)" in result.output


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubConfig:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)
    _workspace(tmp_path, {**AGREEMENT, "datasets": {"person": AGREEMENT["datasets"]["person"]}})
    return HubConfig(root=tmp_path, hub_id="wuhou", division="510107")


def test_delivery_reports_fill_rates(workspace: HubConfig) -> None:
    table = persons("510107", range(8))
    phones = pa.array([None if i % 4 else "13800000000" for i in range(8)], pa.string())
    table = table.set_column(table.schema.get_field_index("phone"), "phone", phones)
    assert workspace.exchange_root is not None
    stage(workspace.exchange_root, table)
    with Ledger.open(workspace.ledger_url) as ledger:
        report = publish_pending(workspace, ledger, None)
    (delivery,) = report.deliveries
    rates = delivery.fill_rates
    assert rates is not None
    assert rates["gender"] == 1.0 and rates["citizen_id"] == 1.0
    assert rates["phone"] == 0.25
    assert rates["ethnicity"] == 0.0
    # the staged rows were written by hand, not by a mapping: no name_raw either
    assert delivery.empty_columns() == ["ethnicity", "name_raw"]
    shown = report.to_dict()["deliveries"][0]
    assert shown["empty_columns"] == ["ethnicity", "name_raw"]
    assert shown["fill_rates"]["phone"] == 0.25
    # the audit log records what each recipient was given, fill rates included
    log = CliRunner().invoke(cli, ["audit", "log", "--config", str(workspace.root / "hub.yaml"),
                                   "--json"])
    assert log.exit_code == 0, log.output
    (entry,) = [e for e in json.loads(log.output) if e["action"] == "deliver"]
    assert entry["details"]["empty_columns"] == ["ethnicity", "name_raw"]
    assert entry["details"]["fill_rates"]["phone"] == 0.25

"""Consumers: `hrss-hub catalog` (JSON, HTML), the publish CLI, and outboxes read by
duckdb, pandas, polars and pyarrow with nothing of the hub."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from exchange_helpers import persons, stage

from hrss_hub.cli import cli


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HRSS_HUB_SIGNING_KEY", "HRSS_HUB_EXCHANGE_URI", "HRSS_HUB_OUTBOX_URI"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "sharing").mkdir()
    (tmp_path / "sharing" / "mib.yaml").write_text(yaml.safe_dump({
        "recipient": {"id": "mib", "name": "医保局"}, "purpose": "核验",
        "legal_basis": "PIPL 13", "valid_from": "2026-01-01", "valid_to": "2099-01-01",
        "datasets": {"person": {"columns": {"citizen_id": "pseudonym", "gender": "keep",
                                            "birth_date": "keep"}}}},
        allow_unicode=True), encoding="utf-8")
    (tmp_path / "hub.yaml").write_text("hub_id: wuhou\n"
                                       "level: district\ndivision: '510107'\n", encoding="utf-8")
    stage(tmp_path / "exchange", persons("510107", range(25)))
    result = CliRunner().invoke(cli, ["publish", "pending", "--config",
                                      str(tmp_path / "hub.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["versions"][0]["rows"] == 25
    assert report["deliveries"][0]["status"] == "delivered"
    return tmp_path


def test_catalog_json_and_html(workspace: Path) -> None:
    hub = str(workspace / "hub.yaml")
    result = CliRunner().invoke(cli, ["catalog", "--config", hub, "--json", "--html",
                                      str(workspace / "catalog.html")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    person = doc["datasets"][0]
    assert (person["dataset"], person["current_version"], person["rows"]) == ("person", 1, 25)
    assert person["recipients"][0]["recipient"] == "mib"
    assert {f["name"] for f in person["schema"]} >= {"citizen_id", "extracted_at"}
    assert person["publisher"] == {"hub_id": "wuhou", "level": "district", "division": "510107"}
    assert person["label"] == {"zh": "人员基本信息", "en": "Person"}
    labels = {f["name"]: f["label"] for f in person["schema"]}
    assert labels["citizen_id"] == {"zh": "公民身份号码", "en": "Citizen ID number"}
    assert person["partition_columns"] == ["address_division"]
    assert [v["operation"] for v in person["versions"]] == ["create", "publish"]
    # the publisher key is pinned: verify --catalog accepts this data and nothing else
    (pin,) = doc["publishers"]
    assert pin["key_id"] == person["signer_key_id"] and pin["hubs"] == ["wuhou"]
    assert pin["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    (workspace / "catalog.json").write_text(result.output, encoding="utf-8")
    ok = CliRunner().invoke(cli, ["verify", str(workspace / "exchange"), "--catalog",
                                  str(workspace / "catalog.json")])
    assert ok.exit_code == 0 and "pinned in" in ok.output, ok.output
    page = (workspace / "catalog.html").read_text(encoding="utf-8")
    assert "<h2 id='person'>" in page and "医保局" in page and "<script" not in page
    assert "公民身份号码" in page and "Pinned publisher keys" in page
    assert "http://" not in page and "https://" not in page  # offline page
    text = CliRunner().invoke(cli, ["catalog", "--config", hub])
    assert "person" in text.output and "mib" in text.output


def test_publish_key_commands(workspace: Path, tmp_path: Path) -> None:
    pub = CliRunner().invoke(cli, ["publish", "public-key", "--config",
                                   str(workspace / "hub.yaml")])
    assert pub.output.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "hub.pub").write_text(pub.output)
    ok = CliRunner().invoke(cli, ["verify", str(workspace / "outbox"), "--trusted-key",
                                  str(tmp_path / "hub.pub")])
    assert ok.exit_code == 0, ok.output
    key = CliRunner().invoke(cli, ["publish", "keygen", str(tmp_path / "new.pem")])
    assert key.exit_code == 0 and "PRIVATE" not in key.output
    assert (tmp_path / "new.pem").stat().st_mode & 0o077 == 0


def test_outbox_readable_without_the_hub(workspace: Path) -> None:
    folder = workspace / "outbox" / "mib" / "person"
    # a fresh interpreter that never imports hrss_hub reads the outbox four ways
    code = f"""
import sys, duckdb, polars, pyarrow as pa
from deltalake import DeltaTable
folder = {str(folder)!r}
dt = DeltaTable(folder)
con = duckdb.connect()
con.register("mib_person", dt.to_pyarrow_dataset())
counts = [
    con.sql("select count(*) from mib_person").fetchall()[0][0],
    len(dt.to_pandas()),
    polars.read_delta(folder).height,
    pa.table(dt.to_pyarrow_table()).num_rows,
]
assert polars.read_delta(folder).columns == ["citizen_id", "gender", "birth_date"]
assert "hrss_hub" not in sys.modules
print(counts)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=workspace)
    assert out.stdout.strip() == "[25, 25, 25, 25]"

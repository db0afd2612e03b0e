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
    page = (workspace / "catalog.html").read_text(encoding="utf-8")
    assert "<h2 id='person'>" in page and "医保局" in page and "<script" not in page
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
    folder = workspace / "outbox" / "mib" / "person" / "v1"
    # a fresh interpreter that never imports hrss_hub reads the outbox four ways
    code = f"""
import sys, duckdb, pandas, polars, pyarrow.parquet as pq
folder = {str(folder)!r}
counts = [
    duckdb.sql(f"select count(*) from '{{folder}}/*.parquet'").fetchall()[0][0],
    len(pandas.read_parquet(folder)),
    polars.read_parquet(folder + "/*.parquet").height,
    pq.read_table(folder).num_rows,
]
assert "hrss_hub" not in sys.modules
print(counts)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=workspace)
    assert out.stdout.strip() == "[25, 25, 25, 25]"

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


def test_catalog_page_is_bilingual_and_publishes_code_lists(workspace: Path) -> None:
    import csv

    from hrss_hub.standard.model import load_standard

    hub = str(workspace / "hub.yaml")
    out = workspace / "published" / "catalog.html"
    result = CliRunner().invoke(cli, ["catalog", "--config", hub, "--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    person = doc["datasets"][0]
    entity = load_standard().entity("person")
    assert person["description"] == entity.description
    columns = {f["name"]: f for f in person["schema"]}
    assert columns["gender"]["code_list"] == "gender"
    assert columns["citizen_id"]["description"] == entity.field("citizen_id").description
    assert doc["standard"]["version"] == load_standard().version
    page = out.read_text(encoding="utf-8")
    # readable values, never Python reprs of dicts or lists
    assert "{'" not in page and "['" not in page and "': " not in page
    assert "None" not in page
    for heading in ("字段名", "Column", "中文名称", "Chinese label", "英文名称",
                    "English label", "说明", "Description", "代码表", "Code list"):
        assert heading in page, heading
    assert entity.field("citizen_id").description.split(".")[0] in page
    assert "href='codelists/gender.csv'" in page
    used = {c["name"] for c in doc["code_lists"]}
    assert {"gender", "id_type"} <= used
    for name in used:  # every linked code list exists as data beside the page
        with (out.parent / "codelists" / f"{name}.csv").open(encoding="utf-8-sig") as fh:
            rows = {r["code"]: r for r in csv.DictReader(fh)}
        data = json.loads((out.parent / "codelists" / f"{name}.json").read_text("utf-8"))
        assert [c["code"] for c in data["codes"]] == list(rows)
    with (out.parent / "codelists" / "gender.csv").open(encoding="utf-8-sig") as fh:
        gender = {r["code"]: r for r in csv.DictReader(fh)}
    assert (gender["2"]["label_zh"], gender["2"]["label_en"]) == ("女性", "Female")
    assert "女" in gender["2"]["aliases"].split("; ")


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

"""``level:`` accepts the county tier's units by name (#15.11): 县、县级市、区 (市辖区) are one
tier, as are 地级市/地区/自治州/盟 and 省/自治区/直辖市; case does not matter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hrss_hub.config import ConfigProblems, HubConfig, load_config
from hrss_hub.config.levels import canonical_level
from hrss_hub.exchange.policy import load_agreement


@pytest.mark.parametrize(("written", "level", "division", "tier"), [
    ("county", "county", "510107", "county"),
    ("County", "county", "510107", "county"),
    ("县", "county", "510121", "county"),
    ("县级市", "county", "510181", "county"),
    ("区", "county", "510107", "county"),
    ("市辖区", "county", "510107", "county"),
    ("district", "district", "510107", "county"),
    ("地级市", "city", "510100", "city"),
    ("自治州", "city", "513300", "city"),
    ("省", "province", "510000", "province"),
    ("直辖市", "province", "110000", "province"),
])
def test_levels_by_name(tmp_path: Path, written: str, level: str, division: str,
                        tier: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(f"level: {written}\ndivision: '{division}'\n", encoding="utf-8")
    cfg = load_config(path, environ={})
    assert (cfg.level, cfg.tier) == (level, tier)


def test_a_bare_shi_is_ambiguous_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("level: 市\ndivision: '510100'\n", encoding="utf-8")
    with pytest.raises(ConfigProblems, match="unknown level '市'"):
        load_config(path, environ={})
    assert canonical_level("市") == "市"


def test_hub_config_in_code_and_recipients_accept_names(tmp_path: Path) -> None:
    assert HubConfig(root=tmp_path, level="县级市", division="510181").tier == "county"
    doc = {"recipient": {"id": "wuhou", "name": "武侯区人社局", "level": "区"},
           "purpose": "下发", "legal_basis": "PIPL art. 13(3)", "valid_from": "2026-01-01",
           "valid_to": "2099-12-31", "datasets": {"person": {"columns": {"gender": "keep"}}}}
    path = tmp_path / "wuhou.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert load_agreement(path).recipient_level == "county"

"""``hrss-hub init`` (issue #15 point 9): a real workspace — hub.yaml with every key of the
config models and its default, folders, one example connector per kind — that
``hrss-hub config check`` accepts and ``hrss-hub run`` runs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from hrss_hub.config import load_config
from hrss_hub.config.hub import HubFile
from hrss_hub.config.sections import DuckdbSection, MasterSection, ShareSection
from hrss_hub.config.thresholds import Threshold
from hrss_hub.connectors.config import load_systems

HUB = Path(sys.executable).parent / "hrss-hub"
ENV = {k: v for k, v in os.environ.items() if k != "HRSS_HUB_LEDGER_URL"}
SECTIONS: dict[str, type[BaseModel]] = {"threshold": Threshold, "share": ShareSection,
                                        "master": MasterSection, "duckdb": DuckdbSection}


def hub(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HUB), *args], capture_output=True, text=True, env=ENV,
                          timeout=300, check=False, cwd=cwd)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("init") / "ws"
    result = hub("init", str(ws), "--level", "county", "--division", "510107", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    created = json.loads(result.stdout)["created"]
    assert str(ws / "hub.yaml") in created
    return ws


def test_hub_yaml_has_every_key_of_the_models_with_its_description(workspace: Path) -> None:
    text = (workspace / "hub.yaml").read_text(encoding="utf-8")
    for name, field in HubFile.model_fields.items():
        assert field.description, f"HubFile.{name} has no attribute docstring"
        assert re.search(rf"^(# )?{name}:", text, re.M), name
        first_words = " ".join(field.description.split()[:4])
        assert first_words in " ".join(text.replace("#", " ").split()), name
    for section, model in SECTIONS.items():
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no attribute docstring"
            assert re.search(rf"^  (# )?{name}:", text, re.M), f"{section}.{name}"


def test_the_written_defaults_are_the_defaults(workspace: Path, tmp_path: Path) -> None:
    # the commented file means what a file with only the required keys means
    (tmp_path / "hub.yaml").write_text((workspace / "hub.yaml").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    written = load_config(tmp_path / "hub.yaml")
    (tmp_path / "hub.yaml").write_text("level: county\ndivision: '510107'\n", encoding="utf-8")
    minimal = load_config(tmp_path / "hub.yaml")
    for f in dataclasses.fields(minimal):
        if f.name == "origins":
            continue
        a, b = getattr(minimal, f.name), getattr(written, f.name)
        if f.name in SECTIONS and f.name != "threshold":  # sections: the keys written
            a, b = SECTIONS[f.name].model_validate(a), SECTIONS[f.name].model_validate(b)
        assert a == b, f.name
    assert written.origins["batch_size"] == "hub.yaml"


def test_config_check_passes_and_every_kind_has_an_example(workspace: Path) -> None:
    result = hub("config", "check", "--config", str(workspace / "hub.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 connector file(s), 0 agreement(s): 0 problem(s)" in result.stdout
    systems = load_systems(workspace / "connectors", workspace)
    assert sorted(s.kind for s in systems.values()) == ["files", "rest", "sql"]
    for folder in ("connectors", "expectations", "sharing", "sources"):
        assert (workspace / folder).is_dir(), folder


def test_the_sql_and_files_examples_run(workspace: Path) -> None:
    result = hub("run", "--system", "example_sql", "--system", "example_files", "--json",
                 cwd=workspace)
    assert result.returncode == 0, result.stdout + result.stderr
    streams = [s for system in json.loads(result.stdout)["systems"] for s in system["streams"]]
    assert [(s["system"], s["published"]) for s in streams] == [
        ("example_sql", 3), ("example_files", 3)]


def test_init_keeps_what_exists(tmp_path: Path) -> None:
    (tmp_path / "hub.yaml").write_text("level: city\ndivision: '510100'\n", encoding="utf-8")
    result = hub("init", str(tmp_path), "--level", "county", "--division", "510107")
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load((tmp_path / "hub.yaml").read_text(encoding="utf-8"))["level"] == "city"
    assert (tmp_path / "connectors" / "example_sql.yaml").is_file()


def test_a_division_that_does_not_fit_exits_2_without_traceback(tmp_path: Path) -> None:
    result = hub("init", str(tmp_path / "w"), "--level", "city", "--division", "51010")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "division" in result.stderr

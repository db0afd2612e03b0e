"""Bad configuration makes ``hrss-hub run`` and ``hrss-hub standard check`` exit non-zero
with the file, the YAML path and a suggestion — never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hrss_hub.demo.generator import generate_world

HUB = Path(sys.executable).parent / "hrss-hub"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("bad-config") / "w"
    generate_world(ws, persons=50, seed=3)
    return ws


def break_mapping(ws: Path, change: dict) -> None:
    path = ws / "connectors" / "personnel.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields = doc["streams"][0]["mapping"]["fields"]
    for key, value in change.items():
        if value is None:
            fields.pop(key)
        else:
            fields[key] = value
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


CASES = {
    "unknown field": ({"birthdate": "出生日期"}, "did you mean 'birth_date'"),
    "wrong type": ({"name": {"from": "姓名", "normalize": "date"}}, "normalize"),
    "missing required": ({"birth_date": None}, "required field 'birth_date'"),
    "unknown normalizer": ({"name": {"from": "姓名", "normalize": "nmae"}}, "did you mean 'name'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_mapping_is_reported_by_run_and_check(world: Path, tmp_path: Path, case: str) -> None:
    ws = tmp_path / "ws"
    subprocess.run(["cp", "-r", str(world), str(ws)], check=True)
    change, expected = CASES[case]
    break_mapping(ws, change)
    env = {k: v for k, v in os.environ.items() if k != "HRSS_HUB_LEDGER_URL"}
    for args, code in ((["run", "--config", str(ws / "hub.yaml"), "--quiet"], 2),
                       (["standard", "check", "--config", str(ws / "hub.yaml")], 1)):
        result = subprocess.run([str(HUB), *args], capture_output=True, text=True, env=env,
                                timeout=300)
        output = result.stdout + result.stderr
        assert result.returncode == code, output
        assert "Traceback" not in output
        assert "personnel.yaml" in output and "streams[0].mapping.fields" in output, output
        assert expected in output, output

"""Issue #15 point 14: a stream whose rows are all quarantined fails (exit 1) through the
default ``threshold.quarantine_fail_pct`` (90), which a stream or hub.yaml can change."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml

from hrss_hub.cli.init import scaffold
from hrss_hub.config import Threshold
from hrss_hub.config.thresholds import DEFAULT_QUARANTINE_FAIL_PCT
from hrss_hub.pipeline import StreamSummary
from hrss_hub.quality.thresholds import check

HUB = Path(sys.executable).parent / "hrss-hub"


def _workspace(tmp_path: Path, stream_threshold: dict[str, float] | None = None,
               hub_quarantine_fail_pct: float | None = None) -> Path:
    """``hrss-hub init``'s workspace with its sql example only, whose source spells gender
    M/F: every row falls back to quarantine."""
    scaffold(tmp_path, "county", "510107", "test-hub")
    for other in ("example_files.yaml", "example_rest.yaml"):
        (tmp_path / "connectors" / other).unlink()
    with sqlite3.connect(tmp_path / "sources" / "example.db") as db:
        db.execute("UPDATE staff SET sex = CASE sex WHEN '男' THEN 'M' ELSE 'F' END")
    db.close()
    hub_yaml = tmp_path / "hub.yaml"
    text = hub_yaml.read_text(encoding="utf-8").replace("\ngx: true\n", "\ngx: false\n")
    if hub_quarantine_fail_pct is not None:  # the scaffold's threshold section, edited
        text = text.replace("  quarantine_fail_pct: 90.0\n",
                            f"  quarantine_fail_pct: {hub_quarantine_fail_pct}\n")
    hub_yaml.write_text(text, encoding="utf-8")
    if stream_threshold is not None:
        connector = tmp_path / "connectors" / "example_sql.yaml"
        doc = yaml.safe_load(connector.read_text(encoding="utf-8"))
        doc["streams"][0]["threshold"] = stream_threshold
        connector.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return hub_yaml


def _run(hub_yaml: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HRSS_HUB_LEDGER_URL"}
    return subprocess.run([str(HUB), "run", "--config", str(hub_yaml), "--json"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def test_all_rows_quarantined_fails_the_run(tmp_path: Path) -> None:
    result = _run(_workspace(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (stream,) = json.loads(result.stdout)["systems"][0]["streams"]
    assert (stream["status"], stream["published"], stream["quarantined"]) == ("failed", 0, 3)
    assert "100.00% of 3 rows quarantined (limit 90%" in stream["error"]
    assert "quarantine_fail_pct" in stream["error"]


def test_a_stream_may_lift_the_limit(tmp_path: Path) -> None:
    result = _run(_workspace(tmp_path, {"quarantine_fail_pct": 100}))
    assert result.returncode == 0, result.stdout + result.stderr
    (stream,) = json.loads(result.stdout)["systems"][0]["streams"]
    assert (stream["status"], stream["quarantined"]) == ("succeeded", 3)


def test_hub_yaml_sets_it_for_every_stream_and_a_stream_overrides_key_by_key(
        tmp_path: Path) -> None:
    # hub.yaml lifts the limit; the stream sets only another key: hub.yaml's value holds
    hub_yaml = _workspace(tmp_path, {"warn_fail_pct": 50}, hub_quarantine_fail_pct=100)
    result = _run(hub_yaml)
    assert result.returncode == 0, result.stdout + result.stderr
    (stream,) = json.loads(result.stdout)["systems"][0]["streams"]
    assert "100.00% of 3 rows quarantined (warning above 50%)" in stream["quality_warning"]


def test_the_default_applies_where_nothing_is_set() -> None:
    def summary(read: int, quarantined: int) -> StreamSummary:
        return StreamSummary("si_core", "AC01", "person", read=read, mapped=read,
                             quarantined=quarantined,
                             quarantined_by_rule={"code_invalid": quarantined})

    assert DEFAULT_QUARANTINE_FAIL_PCT == Threshold().quarantine_fail_pct == 90
    assert Threshold().as_dict() == {}  # a default is not "set": hub.yaml's value wins
    assert check(None, summary(100, 90), frozenset()) is None
    verdict = check(None, summary(100, 91), frozenset())
    assert verdict is not None and verdict.level == "fail"
    assert check({"quarantine_fail_pct": 100}, summary(100, 100), frozenset()) is None

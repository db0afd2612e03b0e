"""The quality report on the demo world, rendered in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from hrss_hub.config import load_config
from hrss_hub.demo_tour import run_demo
from hrss_hub.ledger import Ledger
from hrss_hub.quality import gx, results
from hrss_hub.quality.report import build_report_data, mask_id, write_report
from hrss_hub.quality.suites import load_suites
from hrss_hub.quality.validate import gx_root, validation_dir
from hrss_hub.standard.model import load_standard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "expectations"))
from demo_streams import validate_demo

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--no-first-run",
                  "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str, Path, dict[str, Any]]:
    """Run the demo, validate its streams as the pipeline does, record results, write the
    report."""
    ws = tmp_path_factory.mktemp("report") / "world"
    assert run_demo(ws, 300, 7, quiet=True) == 0
    cfg = load_config(ws / "hub.yaml")
    ledger = Ledger.open(cfg.ledger_url)
    try:
        run = ledger.recent_runs(1)[0]
        suites = load_suites(REPO_ROOT / "expectations", load_standard())
        with gx.file_context(gx_root(cfg.reports_dir, run.id)) as context:
            for _, _, validator, _, _ in validate_demo(ws, suites, context):
                validator.result.run_id = run.id
                validator.finish(validation_dir(cfg.reports_dir, run.id))
            gx.build_docs(context)
        assert run.summary is not None
        assert results.record(ledger, run.summary, cfg.reports_dir) > 100
    finally:
        ledger.close()
    key = json.loads((ws / "answer_key.json").read_text(encoding="utf-8"))
    return cfg, run.id, write_report(cfg, run.id), key


def test_mask_id() -> None:
    assert mask_id("51010719900101123X") == "510107********123X"
    assert mask_id("id 510107900101123 gender=1") == "id 510107*****1123 gender=1"


def test_every_quarantined_row_traces_to_its_source(reported: Any) -> None:
    cfg = reported[0]
    files = list(cfg.quarantine_dir.rglob("*.parquet"))
    assert files
    for f in files:
        t = pq.read_table(f, columns=["location", "system", "rules"])
        assert t["location"].null_count == 0, f
        assert all(loc for loc in t["location"].to_pylist()), f


def test_json_report_matches_the_answer_key(reported: Any) -> None:
    cfg, run_id, _, key = reported
    data = build_report_data(cfg, run_id)
    for s in data["streams"]:
        expected = key["systems"][s["system"]][s["stream"]]
        assert s["quarantined"] == expected["quarantined_rows"]
        assert {r["rule"]: r["failed"] for r in s["rules"]} == expected["quarantined"]
        for e in s["expectations"]:
            assert e["unexpected"] == e["gx_unexpected"], (s["stream"], e)
    assert data["data_docs"] and (cfg.reports_dir / run_id / data["data_docs"]).exists()
    assert data["trend"] and data["worst_offenders"]
    examples = [x for w in data["worst_offenders"] for x in w["examples"]]
    assert examples and not any(re.search(r"\d{17}[\dX]", x["value"]) for x in examples)


class _Cells(HTMLParser):
    """Collects the summary table's cells per data-stream row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.current: str | None = None
        self.in_td = False
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-stream"):
            self.current = a["data-stream"]
            self.rows.setdefault(self.current, [])
        if tag == "td" and self.current:
            self.in_td = True
            self.rows[self.current].append("")
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.in_td = False
        if tag in ("tr", "table"):
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.in_td and self.current:
            self.rows[self.current][-1] += data


def test_report_renders_in_headless_chromium(reported: Any, tmp_path: Path) -> None:
    _cfg, _run_id, html_path, key = reported
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "install Debian's chromium: apt-get install -y chromium"
    text = html_path.read_text(encoding="utf-8")
    # self-contained: no network resources of any kind
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<script" not in text
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", html_path.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    console = [line for line in dom.stderr.splitlines()
               if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line]
    assert not console, console
    cells = _Cells()
    cells.feed(dom.stdout)
    compared = 0
    for system, streams in key["systems"].items():
        for stream, expected in streams.items():
            row = cells.rows[f"{system}.{stream}"]
            assert int(row[4]) == expected["read"]
            assert int(row[5]) == expected["published"]
            assert int(row[6]) == expected["quarantined_rows"]
            compared += 1
    assert compared == sum(len(s) for s in key["systems"].values())
    assert "数据质量报告" in dom.stdout and "Data quality report" in dom.stdout
    # links resolve: quarantine files and Data Docs
    local = [h for h in cells.hrefs if not h.startswith("#")]
    assert any("data_docs" in h for h in local)
    for h in local:
        assert (html_path.parent / h).exists(), h
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2000",
                    html_path.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.exists() and shot.stat().st_size > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "quality-report.png")

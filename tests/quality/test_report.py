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
from hrss_hub.errors import HubError
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


def test_every_rule_has_examples_with_a_reference_release_accepts(reported: Any) -> None:
    from click.testing import CliRunner

    from hrss_hub.cli import cli

    cfg, run_id, _, _ = reported
    data = build_report_data(cfg, run_id)
    refs = []
    for s in data["streams"]:
        for r in s["rules"]:
            assert r["examples"], (s["stream"], r["rule"])
            for x in r["examples"]:
                assert x["ref"].startswith(f"{run_id}/{s['system']}/{s['stream']}#")
                assert not re.search(r"\d{17}[\dX]", x["source_key"] + x["location"])
                refs.append((s["system"], x["ref"]))
    covered = {(w["system"], w["stream"], w["rule"]) for w in data["worst_offenders"]}
    assert covered == {(s["system"], s["stream"], r["rule"]) for s in data["streams"]
                       for r in s["rules"]}
    system, ref = refs[0]
    runner = CliRunner()
    cfg_arg = ["--config", str(cfg.source_file)]
    done = runner.invoke(cli, ["quarantine", "release", ref, "--system", system, "--by",
                               "auditor", "--reason", "checked at source", *cfg_arg])
    assert done.exit_code == 0, done.output
    listed = json.loads(runner.invoke(cli, ["quarantine", "list", "--json", *cfg_arg]).output)
    assert {r["ref"]: r["status"] for r in listed}[ref] == "released"


def test_quarantine_downloads_are_masked_and_complete(reported: Any) -> None:
    import csv

    import openpyxl

    cfg, run_id, html_path, _ = reported
    data = build_report_data(cfg, run_id)
    checked = 0
    for s in data["streams"]:
        if not s["quarantined"]:
            continue
        d = s["downloads"]
        csv_path, xlsx_path = html_path.parent / d["csv"], html_path.parent / d["xlsx"]
        with csv_path.open(encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))[1:]
        assert len(rows) == s["quarantined"]
        assert not re.search(rb"\d{17}[\dXx]", csv_path.read_bytes())
        sheet = openpyxl.load_workbook(xlsx_path, read_only=True)["quarantine"]
        cells = list(sheet.iter_rows(values_only=True))
        assert len(cells) == len(rows) + 1
        assert not any(re.search(r"\d{17}[\dXx]", str(c)) for r in cells for c in r if c)
        assert f'href="{d["csv"]}"' in html_path.read_text(encoding="utf-8")
        checked += 1
    assert checked >= 4


def test_report_prints_on_a4_with_page_numbers_and_sign_off(reported: Any,
                                                            tmp_path: Path) -> None:
    import pypdf

    _cfg, _run_id, html_path, _ = reported
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "install Debian's chromium: apt-get install -y chromium"
    pdf = tmp_path / "report.pdf"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html_path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    reader = pypdf.PdfReader(pdf)
    n = len(reader.pages)
    assert n >= 3
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    texts = [p.extract_text() for p in reader.pages]
    for i, text in enumerate(texts, 1):
        assert f"page {i} of {n}" in text, (i, text[-200:])
    # a table that runs over a page break repeats its head on the next page
    heads = [i for i, t in enumerate(texts) if "Pass rate" in t and "Severity" in t]
    assert len(heads) >= 2
    # ("Sign-off" prints with the "ff" ligature)
    assert "审核签字" in texts[-1] and "Reviewed by" in texts[-1] and "Signature" in texts[-1]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "quality-report.pdf")


def test_runs_that_extract_nothing_are_not_runs(reported: Any) -> None:
    cfg, run_id, _, _ = reported
    ledger = Ledger.open(cfg.ledger_url)
    try:
        # what `hrss-hub publish pending` / exchange maintenance record: a run of no stream
        empty = ledger.start_run(cfg.hub_id, "cli")
        ledger.finish_run(empty, "succeeded", {"published": [], "delivered": []})
    finally:
        ledger.close()
    data = build_report_data(cfg)
    assert data["run_id"] == run_id
    assert empty not in {t["run_id"] for t in data["trend"]}
    assert empty not in data["stream_trend"]["runs"]
    assert data["scores"] and all(0 <= s["score"] <= 100 for s in data["scores"])
    with pytest.raises(HubError, match="extracted no stream"):
        build_report_data(cfg, empty)

"""What an auditor gets from a demo run: no raw citizen ID outside the exchange, and every
HTML page (report, Data Docs, catalog) loads in a headless Chromium with networking off."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hrss_hub.quality.datadocs import CDN_ASSETS, SITE_VENDOR, external_resources

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
HUB = [sys.executable, "-m", "hrss_hub"]
# 18-digit IDs (GB 11643) and the old 15-digit form; only values of the demo world count
_ID18 = re.compile(rb"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{9}[\dXx](?![0-9A-Za-z])")
_ID15 = re.compile(rb"(?<![0-9A-Za-z])[1-9]\d{5}\d{2}[01]\d[0-3]\d{4}(?![0-9A-Za-z])")
# networking off: every host unresolvable, every proxied request refused; file:// still works
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=socks5://127.0.0.1:9",
           "--proxy-bypass-list=<-loopback>"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("HRSS_HUB_LEDGER_URL", None)
    return subprocess.run([*HUB, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A demo run through the CLI (its output is the log), then an incremental run, the
    report, the HTML catalog and the data dictionary: every kind of page the hub writes."""
    ws = tmp_path_factory.mktemp("auditor") / "world"
    logs = []
    for args in (["demo", "--dir", str(ws), "--persons", "300", "--seed", "11"],
                 ["demo", "append", "--dir", str(ws)],
                 ["run", "--config", str(ws / "hub.yaml")],
                 ["report", "--config", str(ws / "hub.yaml")],
                 ["catalog", "--config", str(ws / "hub.yaml"), "--html",
                  str(ws / "reports" / "catalog.html")],
                 ["standard", "docs", "--out", str(ws / "reports" / "dictionary")]):
        done = _run(args, ws.parent)
        logs.append(done.stdout + done.stderr)
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return {"ws": ws, "log": "\n".join(logs)}


def _strings(table: pa.Table) -> bytes:
    out = []
    for col in table.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out.extend(v for v in col.to_pylist() if v)
        elif pa.types.is_list(col.type):
            out.extend(str(v) for v in col.to_pylist() if v)
    return "\n".join(out).encode()


def _ids(data: bytes) -> set[bytes]:
    return {m.upper() for m in _ID18.findall(data)} | set(_ID15.findall(data))


def _world_ids(ws: Path) -> set[bytes]:
    """Every citizen ID of the demo world: raw in the sources, normalized in the exchange,
    as received in quarantine."""
    ids: set[bytes] = set()
    for path in (ws / "sources").rglob("*"):
        if path.suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            ids |= _ids("\n".join(str(c) for s in book for r in s.iter_rows(values_only=True)
                                  for c in r if c is not None).encode())
        elif path.is_file():
            ids |= _ids(path.read_bytes())
    for path in [*(ws / "exchange").rglob("*.parquet"), *(ws / "quarantine").rglob("*.parquet")]:
        ids |= _ids(_strings(pq.read_table(path)))
    return ids


def _ledger_dump(ws: Path) -> bytes:
    con = sqlite3.connect(ws / ".hrss-hub" / "ledger.db")
    try:
        return "\n".join(con.iterdump()).encode()
    finally:
        con.close()


def test_no_raw_citizen_id_outside_the_exchange(world: dict[str, Any]) -> None:
    ws: Path = world["ws"]
    ids = _world_ids(ws)
    assert len(ids) > 250  # the scanner sees the world's IDs where they belong
    scanned: dict[str, bytes] = {"log": world["log"].encode(), "ledger": _ledger_dump(ws)}
    for path in (ws / "reports").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".parquet":
                data = _strings(pq.read_table(path))
            elif path.suffix == ".xlsx":
                import openpyxl

                book = openpyxl.load_workbook(path, read_only=True)
                data = "\n".join(str(c) for s in book for r in s.iter_rows(values_only=True)
                                 for c in r if c is not None).encode()
            scanned[str(path.relative_to(ws))] = data
    assert any("/gx/" in name and name.endswith(".json") for name in scanned)
    assert any("data_docs" in name and name.endswith(".html") for name in scanned)
    leaks = {name: sorted(i.decode() for i in _ids(data) & ids)[:3]
             for name, data in scanned.items() if _ids(data) & ids}
    assert not leaks, leaks


def _pages(ws: Path) -> list[Path]:
    return sorted(p for p in (ws / "reports").rglob("*.html"))


def test_every_page_loads_nothing_from_the_network(world: dict[str, Any]) -> None:
    pages = _pages(world["ws"])
    assert len([p for p in pages if "data_docs" in p.parts]) > 8
    assert any(p.name == "report.html" for p in pages)
    assert any(p.name == "catalog.html" for p in pages)
    assert any(p.name == "data-dictionary.html" for p in pages)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert external_resources(text) == [], page
        # every local script, stylesheet and image exists
        for ref in re.findall(r"""<(?:script|img)\b[^>]*\bsrc=["']([^"'#]+)["']"""
                              r"""|<link\b[^>]*\bhref=["']([^"'#]+)["']""", text):
            rel = next(r for r in ref if r)
            assert (page.parent / rel).exists(), (page, rel)


def test_custom_expectations_render_their_rule(world: dict[str, Any]) -> None:
    pages = [p for p in _pages(world["ws"]) if "data_docs" in p.parts]
    assert pages
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert "(**" not in text and "**{" not in text
    assert "公民身份号码无效" in text and "invalid citizen ID number" in text


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "install Debian's chromium: apt-get install -y chromium"
    return chromium


def _dom(page: Path, profile: Path) -> str:
    done = subprocess.run([_chromium(), *OFFLINE, f"--user-data-dir={profile}",
                           "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def _shot(page: Path, out: Path, profile: Path) -> None:
    subprocess.run([_chromium(), *OFFLINE, f"--user-data-dir={profile}",
                    "--virtual-time-budget=10000", f"--screenshot={out}",
                    "--window-size=1240,1754", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert out.exists() and out.stat().st_size > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(out, ARTIFACTS / out.name)


def test_data_docs_index_works_offline_in_chromium(world: dict[str, Any],
                                                     tmp_path: Path) -> None:
    index = next(p for p in _pages(world["ws"])
                 if p.name == "index.html" and p.parent.name == "local_site")
    # the index's list of validations is drawn by jQuery + bootstrap-table: with the CDN
    # links GX writes (network off) it stays empty, with the vendored copies it is filled
    online = index.with_name("index-cdn.html")
    text = index.read_text(encoding="utf-8")
    for url, local in CDN_ASSETS.items():
        text = text.replace(f"{SITE_VENDOR}/{local}", url)
    online.write_text(text, encoding="utf-8")
    try:
        cdn_rows = _dom(online, tmp_path / "p1").count('href="validations/')
    finally:
        online.unlink()
    rows = _dom(index, tmp_path / "p2").count('href="validations/')
    assert cdn_rows == 0
    assert rows >= 8, rows
    _shot(index, tmp_path / "data-docs-index.png", tmp_path / "p3")


def test_report_and_catalog_render_offline_in_chromium(world: dict[str, Any],
                                                        tmp_path: Path) -> None:
    ws: Path = world["ws"]
    report = sorted((ws / "reports").glob("*/report.html"))[-1]
    dom = _dom(report, tmp_path / "p1")
    assert "数据质量报告" in dom and "Data quality report" in dom
    _shot(report, tmp_path / "quality-report-offline.png", tmp_path / "p2")
    catalog = ws / "reports" / "catalog.html"
    dom = _dom(catalog, tmp_path / "p3")
    assert "数据目录" in dom and "Catalog" in dom
    _shot(catalog, tmp_path / "catalog-offline.png", tmp_path / "p4")
